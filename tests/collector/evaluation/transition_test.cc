// Every edge of a series' state machine (docs/monitoring-plan.md,
// "Evaluation"), one named row each; `for` is 20 s and `keep_firing_for`
// 40 s unless a row says otherwise, and every row steps at t = 100 s.
#include "collector/evaluation/transition.h"

#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "collector/plan/names.h"
#include "common/base/time_util.h"
#include "gtest/gtest.h"

namespace aims::collector {

// Readable failures.
void PrintTo(const SeriesState& s, std::ostream* os) {
  auto time = [](const std::optional<absl::Time>& t) {
    return t ? FormatRfc3339(*t) : std::string("unset");
  };
  *os << "{" << ObjectiveStateName(s.state)
      << ", active_since=" << time(s.active_since)
      << ", last_breach=" << time(s.last_breach)
      << ", fired_at=" << time(s.fired_at)
      << ", resolved_at=" << time(s.resolved_at) << "}";
}

namespace {

constexpr v1::ObjectiveState kUnevaluated = v1::OBJECTIVE_STATE_UNSPECIFIED;
constexpr v1::ObjectiveState kInactive = v1::OBJECTIVE_STATE_INACTIVE;
constexpr v1::ObjectiveState kPending = v1::OBJECTIVE_STATE_PENDING;
constexpr v1::ObjectiveState kFiring = v1::OBJECTIVE_STATE_FIRING;
constexpr v1::ObjectiveState kResolved = v1::OBJECTIVE_STATE_RESOLVED;
constexpr v1::ObjectiveState kInsufficient =
    v1::OBJECTIVE_STATE_INSUFFICIENT_EVIDENCE;
constexpr v1::ObjectiveState kPossible = v1::OBJECTIVE_STATE_POSSIBLE_BREACH;

// Seconds after an arbitrary start.
absl::Time At(int seconds) {
  return absl::FromUnixSeconds(1'700'000'000) + absl::Seconds(seconds);
}

constexpr int kNow = 100;
const AlertDurations kDurations = {absl::Seconds(20), absl::Seconds(40)};

struct Edge {
  std::string name;
  SeriesState before;
  Verdict verdict;
  SeriesState after;
  TransitionEffect effect;
  AlertDurations durations = kDurations;
};

void PrintTo(const Edge& edge, std::ostream* os) { *os << edge.name; }

const std::vector<Edge>& Edges() {
  static const auto* edges = new std::vector<Edge>{
      // Breached: inactive, resolved, insufficient and unevaluated series
      // start pending.
      {"UnevaluatedBreachedStartsPending",
       {.state = kUnevaluated},
       Verdict::kBreached,
       {.state = kPending, .active_since = At(kNow), .last_breach = At(kNow)},
       TransitionEffect::kStateChanged},
      {"InactiveBreachedStartsPending",
       {.state = kInactive},
       Verdict::kBreached,
       {.state = kPending, .active_since = At(kNow), .last_breach = At(kNow)},
       TransitionEffect::kStateChanged},
      {"ResolvedBreachedStartsPendingKeepingItsLastFiring",
       {.state = kResolved,
        .last_breach = At(10),
        .fired_at = At(5),
        .resolved_at = At(50)},
       Verdict::kBreached,
       {.state = kPending,
        .active_since = At(kNow),
        .last_breach = At(kNow),
        .fired_at = At(5),
        .resolved_at = At(50)},
       TransitionEffect::kStateChanged},
      {"InsufficientBreachedStartsPending",
       {.state = kInsufficient, .last_breach = At(10)},
       Verdict::kBreached,
       {.state = kPending, .active_since = At(kNow), .last_breach = At(kNow)},
       TransitionEffect::kStateChanged},
      // `for` = 0: through pending to firing in one step.
      {"InactiveBreachedWithForZeroFiresAtOnce",
       {.state = kInactive},
       Verdict::kBreached,
       {.state = kFiring,
        .active_since = At(kNow),
        .last_breach = At(kNow),
        .fired_at = At(kNow)},
       TransitionEffect::kFired,
       {absl::ZeroDuration(), absl::Seconds(40)}},
      {"ResolvedBreachedWithForZeroFiresAndClearsResolvedAt",
       {.state = kResolved,
        .last_breach = At(10),
        .fired_at = At(5),
        .resolved_at = At(50)},
       Verdict::kBreached,
       {.state = kFiring,
        .active_since = At(kNow),
        .last_breach = At(kNow),
        .fired_at = At(kNow)},
       TransitionEffect::kFired,
       {absl::ZeroDuration(), absl::Seconds(40)}},
      // Pending and breached: firing once breached for `for`.
      {"PendingBreachedShorterThanForStaysPending",
       {.state = kPending, .active_since = At(81), .last_breach = At(90)},
       Verdict::kBreached,
       {.state = kPending, .active_since = At(81), .last_breach = At(kNow)},
       TransitionEffect::kNone},
      {"PendingBreachedForExactlyForFires",
       {.state = kPending, .active_since = At(80), .last_breach = At(90)},
       Verdict::kBreached,
       {.state = kFiring,
        .active_since = At(80),
        .last_breach = At(kNow),
        .fired_at = At(kNow)},
       TransitionEffect::kFired},
      {"PendingBreachedLongerThanForFiresAndClearsResolvedAt",
       {.state = kPending,
        .active_since = At(30),
        .last_breach = At(90),
        .fired_at = At(5),
        .resolved_at = At(20)},
       Verdict::kBreached,
       {.state = kFiring,
        .active_since = At(30),
        .last_breach = At(kNow),
        .fired_at = At(kNow)},
       TransitionEffect::kFired},
      // Holds: pending, unevaluated and insufficient become inactive.
      {"PendingHoldsBecomesInactive",
       {.state = kPending, .active_since = At(90), .last_breach = At(90)},
       Verdict::kHolds,
       {.state = kInactive, .last_breach = At(90)},
       TransitionEffect::kStateChanged},
      {"UnevaluatedHoldsBecomesInactive",
       {.state = kUnevaluated},
       Verdict::kHolds,
       {.state = kInactive},
       TransitionEffect::kStateChanged},
      {"InsufficientHoldsBecomesInactive",
       {.state = kInsufficient, .last_breach = At(10)},
       Verdict::kHolds,
       {.state = kInactive, .last_breach = At(10)},
       TransitionEffect::kStateChanged},
      {"InactiveHoldsStaysInactive",
       {.state = kInactive, .last_breach = At(10)},
       Verdict::kHolds,
       {.state = kInactive, .last_breach = At(10)},
       TransitionEffect::kNone},
      {"ResolvedHoldsStaysResolved",
       {.state = kResolved,
        .last_breach = At(10),
        .fired_at = At(5),
        .resolved_at = At(50)},
       Verdict::kHolds,
       {.state = kResolved,
        .last_breach = At(10),
        .fired_at = At(5),
        .resolved_at = At(50)},
       TransitionEffect::kNone},
      // Firing: held by keep_firing_for after the last breach, then
      // resolved.
      {"FiringBreachedStaysFiringAndMovesLastBreach",
       {.state = kFiring,
        .active_since = At(60),
        .last_breach = At(90),
        .fired_at = At(80)},
       Verdict::kBreached,
       {.state = kFiring,
        .active_since = At(60),
        .last_breach = At(kNow),
        .fired_at = At(80)},
       TransitionEffect::kNone},
      {"FiringHoldsWithinKeepFiringForStaysFiring",
       {.state = kFiring,
        .active_since = At(40),
        .last_breach = At(61),
        .fired_at = At(60)},
       Verdict::kHolds,
       {.state = kFiring,
        .active_since = At(40),
        .last_breach = At(61),
        .fired_at = At(60)},
       TransitionEffect::kNone},
      {"FiringHoldsForKeepFiringForResolves",
       {.state = kFiring,
        .active_since = At(40),
        .last_breach = At(60),
        .fired_at = At(60)},
       Verdict::kHolds,
       {.state = kResolved,
        .last_breach = At(60),
        .fired_at = At(60),
        .resolved_at = At(kNow)},
       TransitionEffect::kResolved},
      {"FiringHoldsWithKeepFiringForZeroResolvesAtOnce",
       {.state = kFiring,
        .active_since = At(70),
        .last_breach = At(90),
        .fired_at = At(90)},
       Verdict::kHolds,
       {.state = kResolved,
        .last_breach = At(90),
        .fired_at = At(90),
        .resolved_at = At(kNow)},
       TransitionEffect::kResolved,
       {absl::Seconds(20), absl::ZeroDuration()}},
      // Insufficient evidence: never passing, never firing; a firing series
      // stays firing since its recovery cannot be shown.
      {"UnevaluatedInsufficientHasInsufficientEvidence",
       {.state = kUnevaluated},
       Verdict::kInsufficientEvidence,
       {.state = kInsufficient},
       TransitionEffect::kStateChanged},
      {"InactiveInsufficientHasInsufficientEvidence",
       {.state = kInactive, .last_breach = At(10)},
       Verdict::kInsufficientEvidence,
       {.state = kInsufficient, .last_breach = At(10)},
       TransitionEffect::kStateChanged},
      {"PendingInsufficientHasInsufficientEvidenceAndEndsTheBreach",
       {.state = kPending, .active_since = At(90), .last_breach = At(90)},
       Verdict::kInsufficientEvidence,
       {.state = kInsufficient, .last_breach = At(90)},
       TransitionEffect::kStateChanged},
      {"ResolvedInsufficientHasInsufficientEvidence",
       {.state = kResolved,
        .last_breach = At(10),
        .fired_at = At(5),
        .resolved_at = At(50)},
       Verdict::kInsufficientEvidence,
       {.state = kInsufficient,
        .last_breach = At(10),
        .fired_at = At(5),
        .resolved_at = At(50)},
       TransitionEffect::kStateChanged},
      {"InsufficientInsufficientStaysInsufficient",
       {.state = kInsufficient},
       Verdict::kInsufficientEvidence,
       {.state = kInsufficient},
       TransitionEffect::kNone},
      {"FiringInsufficientStaysFiring",
       {.state = kFiring,
        .active_since = At(40),
        .last_breach = At(50),
        .fired_at = At(60)},
       Verdict::kInsufficientEvidence,
       {.state = kFiring,
        .active_since = At(40),
        .last_breach = At(50),
        .fired_at = At(60)},
       TransitionEffect::kNone},
      // Possible breach: beyond the threshold without the evidence to show
      // it. Shown as its own state, it never opens a nonconformity, ends a
      // pending breach, and cannot show a firing series' recovery.
      {"UnevaluatedPossibleBreachIsPossibleBreach",
       {.state = kUnevaluated},
       Verdict::kPossibleBreach,
       {.state = kPossible},
       TransitionEffect::kStateChanged},
      {"InactivePossibleBreachIsPossibleBreach",
       {.state = kInactive, .last_breach = At(10)},
       Verdict::kPossibleBreach,
       {.state = kPossible, .last_breach = At(10)},
       TransitionEffect::kStateChanged},
      {"ResolvedPossibleBreachKeepsItsLastFiring",
       {.state = kResolved,
        .last_breach = At(10),
        .fired_at = At(5),
        .resolved_at = At(50)},
       Verdict::kPossibleBreach,
       {.state = kPossible,
        .last_breach = At(10),
        .fired_at = At(5),
        .resolved_at = At(50)},
       TransitionEffect::kStateChanged},
      {"InsufficientPossibleBreachIsPossibleBreach",
       {.state = kInsufficient},
       Verdict::kPossibleBreach,
       {.state = kPossible},
       TransitionEffect::kStateChanged},
      {"PendingPossibleBreachEndsTheBreach",
       {.state = kPending, .active_since = At(90), .last_breach = At(90)},
       Verdict::kPossibleBreach,
       {.state = kPossible, .last_breach = At(90)},
       TransitionEffect::kStateChanged},
      {"PossibleBreachPossibleBreachStays",
       {.state = kPossible, .last_breach = At(10)},
       Verdict::kPossibleBreach,
       {.state = kPossible, .last_breach = At(10)},
       TransitionEffect::kNone},
      {"PossibleBreachBreachedStartsPending",
       {.state = kPossible},
       Verdict::kBreached,
       {.state = kPending, .active_since = At(kNow), .last_breach = At(kNow)},
       TransitionEffect::kStateChanged},
      {"PossibleBreachBreachedWithForZeroFiresAtOnce",
       {.state = kPossible},
       Verdict::kBreached,
       {.state = kFiring,
        .active_since = At(kNow),
        .last_breach = At(kNow),
        .fired_at = At(kNow)},
       TransitionEffect::kFired,
       {absl::ZeroDuration(), absl::Seconds(40)}},
      {"PossibleBreachHoldsBecomesInactive",
       {.state = kPossible, .last_breach = At(10)},
       Verdict::kHolds,
       {.state = kInactive, .last_breach = At(10)},
       TransitionEffect::kStateChanged},
      {"PossibleBreachInsufficientHasInsufficientEvidence",
       {.state = kPossible},
       Verdict::kInsufficientEvidence,
       {.state = kInsufficient},
       TransitionEffect::kStateChanged},
      {"FiringPossibleBreachStaysFiringWithoutMovingLastBreach",
       {.state = kFiring,
        .active_since = At(40),
        .last_breach = At(50),
        .fired_at = At(60)},
       Verdict::kPossibleBreach,
       {.state = kFiring,
        .active_since = At(40),
        .last_breach = At(50),
        .fired_at = At(60)},
       TransitionEffect::kNone},
  };
  return *edges;
}

class TransitionTest : public testing::TestWithParam<Edge> {};

TEST_P(TransitionTest, NextSeriesState) {
  const Edge& edge = GetParam();
  const SeriesTransition step =
      NextSeriesState(edge.before, edge.verdict, edge.durations, At(kNow));
  EXPECT_EQ(step.next, edge.after);
  EXPECT_EQ(step.effect, edge.effect);
}

INSTANTIATE_TEST_SUITE_P(Edges, TransitionTest, testing::ValuesIn(Edges()),
                         [](const testing::TestParamInfo<Edge>& info) {
                           return info.param.name;
                         });

// The table leaves no state and verdict out.
TEST(TransitionTableTest, CoversEveryStateAndVerdict) {
  std::set<std::pair<v1::ObjectiveState, Verdict>> covered;
  for (const Edge& edge : Edges())
    covered.insert({edge.before.state, edge.verdict});
  for (v1::ObjectiveState state : {kUnevaluated, kInactive, kPending, kFiring,
                                   kResolved, kInsufficient, kPossible}) {
    for (Verdict verdict :
         {Verdict::kHolds, Verdict::kBreached, Verdict::kInsufficientEvidence,
          Verdict::kPossibleBreach}) {
      EXPECT_TRUE(covered.count({state, verdict}))
          << ObjectiveStateName(state) << " x verdict "
          << static_cast<int>(verdict);
    }
  }
}

// The stored form keeps unset times unset and leaves the other fields be.
TEST(TransitionTableTest, StoredStatusRoundTrips) {
  v1::ObjectiveStatus status;
  status.set_series("credit/v1/prod");
  status.set_nonconformity_id("NC-000001");
  *status.mutable_last_evaluated() = ToProto(At(kNow));
  const SeriesState firing = {.state = kFiring,
                              .active_since = At(40),
                              .last_breach = At(50),
                              .fired_at = At(60)};
  SetSeriesState(firing, &status);
  EXPECT_EQ(SeriesStateOf(status), firing);
  EXPECT_FALSE(status.has_resolved_at());
  EXPECT_EQ(status.series(), "credit/v1/prod");
  EXPECT_EQ(status.nonconformity_id(), "NC-000001");
  EXPECT_EQ(FromProto(status.last_evaluated()), At(kNow));

  const SeriesState resolved = {.state = kResolved,
                                .last_breach = At(50),
                                .fired_at = At(60),
                                .resolved_at = At(kNow)};
  SetSeriesState(resolved, &status);
  EXPECT_FALSE(status.has_active_since());
  EXPECT_EQ(SeriesStateOf(status), resolved);
  EXPECT_EQ(SeriesStateOf(v1::ObjectiveStatus()), SeriesState());
}

}  // namespace
}  // namespace aims::collector
