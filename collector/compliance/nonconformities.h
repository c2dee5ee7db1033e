// Nonconformities (ISO/IEC 42001 clause 10.2): opened by the evaluator when
// an objective fires, then worked through by people:
//   open -> acknowledged (reaction) -> cause analysed -> action recorded ->
//   effectiveness reviewed -> closed.
// Each step records actor, time and comment; only the next stage is
// allowed, a person (not "aims") must make every step, and the review needs
// the objective to have held for its effectiveness period after the action.
// Two more endings are reachable from any stage before closed: invalid (not
// a real breach; the reason is required) and risk accepted (until a future
// date, with the rationale; the caller checks the actor's permission). A
// risk acceptance reopens, to the stage it was accepted from, when
// ReopenExpired() runs after its date. Closed and invalid records are final.
// Auto-resolution (the objective holds again) is recorded but never closes.
// A recurrence while a nonconformity is not closed or invalid is added to
// it (and reopens its resolution); after a corrective action was recorded
// it also sends the record back to acknowledged, since the action did not
// hold. Closing is refused while the objective is breached. A recurrence
// after closure within the plan's recurrence period opens a new record
// linked by `recurrence_of`.
//
// A new record is due (due_at) its plan's due period for its severity after
// its opening (Plan::DueAfter); Update() changes owner, due date and ticket
// link, each change on the record's history and the audit trail.
//
// Drift over every feature: the evaluator passes an `episode` series (the
// model's), and the features that breach while its record is open join
// that one record (Nonconformity.features) instead of one record each.
//
// Records live in Storage::Table::kNonconformities keyed by id; every change
// is committed with its audit record (AuditTrail::Commit).
//
// Thread-safety: safe; a mutex serialises changes.
#ifndef AIMS_COLLECTOR_COMPLIANCE_NONCONFORMITIES_H_
#define AIMS_COLLECTOR_COMPLIANCE_NONCONFORMITIES_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "aims/v1/nonconformity.pb.h"
#include "collector/compliance/audit_trail.h"
#include "collector/plan/plan.h"
#include "collector/storage/storage.h"

namespace aims::collector {

// The actor of automatic records (openings, recurrences, auto-resolution);
// people's steps never use it.
inline constexpr char kSystemActor[] = "aims";

// Automatic history entries (recurrence, auto-resolution) start with these.
inline constexpr char kRecurredComment[] = "recurred";
inline constexpr char kAutoResolvedComment[] = "auto-resolved";
// A feature joining an open drift episode's record.
inline constexpr char kFeatureAddedComment[] = "also breached";

// An external ticket's link: http:// or https://, a host, no spaces or
// control characters, at most 2048 bytes.
absl::Status CheckTicketUrl(absl::string_view url);

// Changes to write with a nonconformity change (e.g. outbox entries).
using ExtraMutations =
    std::function<std::vector<Mutation>(const v1::Nonconformity&)>;

// Whether `a` is a later version of the same record than `b`: every change
// of a record appends to its history, so the one with more entries (or, as
// many, the later last entry) is later.
bool IsLaterVersion(const v1::Nonconformity& a, const v1::Nonconformity& b);

class Nonconformities {
 public:
  explicit Nonconformities(Storage* storage, AuditTrail* audit);
  absl::Status Load();
  // Fleet mode: new ids are "NC-<prefix>-000001" (the collector's id), so
  // that the records of every collector of a fleet have distinct ids. Call
  // before the first record is opened.
  void SetIdPrefix(std::string prefix) { id_prefix_ = std::move(prefix); }

  // The objective's series fired: opens a nonconformity or records the
  // recurrence. `mutations` (the series state) are committed with it.
  // `episode` non-empty: the record's series when the objective's features
  // share one record per breach episode; the series' feature joins it.
  absl::StatusOr<v1::Nonconformity> OnFiring(
      const Objective& objective, const Plan& plan,
      const v1::ObjectiveStatus& status, const v1::Evidence& evidence,
      absl::Time now, std::vector<Mutation> mutations,
      std::vector<AuditEntry> audit, const ExtraMutations& extra,
      const std::string& episode = "");
  // The id of the series' latest nonconformity while it is not closed or
  // invalid (a firing of the series would record a recurrence on it), else
  // "". `series` is the record's series (the episode's for drift episodes).
  std::string OpenRecordOf(const std::string& objective_id,
                           const std::string& series) const;
  // The series holds again: records auto-resolution.
  absl::StatusOr<v1::Nonconformity> OnResolved(const std::string& id,
                                               absl::Time now,
                                               std::vector<Mutation> mutations,
                                               std::vector<AuditEntry> audit,
                                               const ExtraMutations& extra);

  // A person moves `id` to the next stage. `series` is the objective
  // series' state now (null when the objective left the plan) and
  // `effectiveness_period` the objective's.
  absl::StatusOr<v1::Nonconformity> Transition(
      const v1::TransitionRequest& request, absl::Time now,
      const v1::ObjectiveStatus* series, absl::Duration effectiveness_period,
      const ExtraMutations& extra);

  // A person changes owner, due date or ticket link (the fields set).
  absl::StatusOr<v1::Nonconformity> Update(
      const v1::UpdateNonconformityRequest& request, absl::Time now,
      const ExtraMutations& extra);

  // Reopens every risk acceptance whose date is at or before `now`, to the
  // stage it was accepted from; returns those reopened.
  // `only` (when set): the records whose model it accepts (in a fleet, the
  // models evaluated here; a former holder's copy is left as it was).
  std::vector<v1::Nonconformity> ReopenExpired(
      absl::Time now, const ExtraMutations& extra,
      const std::function<bool(const v1::ModelRef&)>& only = nullptr);

  // Fleet: `record`, held until now by collector `from`, is this
  // collector's (it owns the record's model now). Written, with an
  // "nc_adopted" audit record, when no record of its id is held here or
  // `record` is a later version of it (IsLaterVersion); false when the one
  // held is as recent. FAILED_PRECONDITION when the id names another
  // record here (another objective, series or opening time). A record
  // this collector numbered (its prefix) keeps new numbers beyond it, should
  // this collector have lost its own storage.
  absl::StatusOr<bool> Adopt(const v1::Nonconformity& record,
                             const std::string& from);

  absl::StatusOr<v1::Nonconformity> Get(const std::string& id) const;
  std::vector<v1::Nonconformity> List(
      const v1::ListNonconformitiesRequest& request) const;

 private:
  // The series' latest record (by opening time), or null.
  const v1::Nonconformity* LatestLocked(const std::string& objective_id,
                                        const std::string& series) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::string id_prefix_;
  absl::Status CommitLocked(const v1::Nonconformity& nc,
                            std::vector<Mutation> mutations,
                            std::vector<AuditEntry> audit,
                            const ExtraMutations& extra, uint64_t next_number)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Storage* const storage_;
  AuditTrail* const audit_;
  mutable absl::Mutex mu_;
  uint64_t next_number_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::string, v1::Nonconformity> by_id_ ABSL_GUARDED_BY(mu_);
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_COMPLIANCE_NONCONFORMITIES_H_
