// The evaluator's side of nonconformities (evaluator.h): opening and
// auto-resolving them with the series' state, drift episodes that share one
// record, people's steps and updates, risk acceptances that reopen, and the
// plan versions on record.
#include <limits>
#include <optional>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "collector/evaluation/decision.h"
#include "collector/evaluation/evaluator.h"
#include "collector/evaluation/objective_series.h"
#include "common/base/log.h"
#include "common/base/time_util.h"
#include "simdjson.h"

namespace aims::collector {
namespace {

// The webhook event of a nonconformity the evaluator just wrote.
std::string FiringEvent(const v1::Nonconformity& nc) {
  if (nc.history_size() <= 1) return "nonconformity.opened";
  if (absl::StartsWith(nc.history().rbegin()->comment(), kFeatureAddedComment))
    return "nonconformity.feature_added";
  return "nonconformity.recurred";
}

bool Breached(const v1::ObjectiveStatus& s) {
  return s.state() == v1::OBJECTIVE_STATE_FIRING ||
         s.state() == v1::OBJECTIVE_STATE_PENDING;
}

// How much a series says against closing or reviewing: breached now, then
// unable to show the objective holds, then the latest breach.
std::tuple<int, absl::Time> Weight(const v1::ObjectiveStatus& s) {
  const int rank =
      Breached(s) ? 2
      : s.state() == v1::OBJECTIVE_STATE_POSSIBLE_BREACH ||
              s.state() == v1::OBJECTIVE_STATE_INSUFFICIENT_EVIDENCE
          ? 1
          : 0;
  return {rank, s.has_last_breach() ? FromProto(s.last_breach())
                                    : absl::InfinitePast()};
}

}  // namespace

absl::Status Evaluator::OpenNonconformity(const Plan& plan, const Objective& o,
                                          const std::string& key,
                                          const v1::MetricValue& value,
                                          const Judged& judged,
                                          std::vector<AuditEntry> audit,
                                          Series* series) {
  v1::ObjectiveStatus& st = series->status;
  const absl::Time now = judged.now;
  v1::Evidence evidence;
  *evidence.mutable_value() = value;
  evidence.set_comparator(ComparatorText(o.comparator));
  evidence.set_threshold(o.threshold);
  *evidence.mutable_window_start() = ToProto(judged.from);
  *evidence.mutable_window_end() = ToProto(judged.to);
  for (const std::string& id : *judged.report_ids) evidence.add_report_ids(id);
  DescribeDecision(o, st, judged.series, &evidence);
  absl::StatusOr<v1::Nonconformity> nc = nonconformities_->OnFiring(
      o, plan, st, evidence, now, {}, std::move(audit),
      [&](const v1::Nonconformity& nc) {
        st.set_nonconformity_id(nc.id());
        std::vector<Mutation> m = {
            {Table::kEvaluation, key, st.SerializeAsString()}};
        for (auto& x : notifier_->AlertMutations(nc, o, st, false, now))
          m.push_back(x);
        for (auto& x : notifier_->WebhookMutations(FiringEvent(nc), nc, now))
          m.push_back(x);
        return m;
      },
      EpisodeSeries(o, st.model()));
  if (!nc.ok()) return nc.status();
  series->last_sent = now;
  if (nc->history_size() == 1) counters_.nonconformities_opened.fetch_add(1);
  LogInfo("nonconformity",
          {{"id", nc->id()},
           {"objective", o.id},
           {"series", st.series()},
           {"value", value.value()},
           {"decision", DecisionName(o.decision)},
           {"occurrences", static_cast<int64_t>(nc->occurrences())}});
  return absl::OkStatus();
}

bool Evaluator::OthersFiring(const std::string& key,
                             const std::string& nonconformity_id) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [k, s] : series_) {
    if (k != key && s.status.nonconformity_id() == nonconformity_id &&
        s.status.state() == v1::OBJECTIVE_STATE_FIRING) {
      return true;
    }
  }
  return false;
}

absl::Status Evaluator::ResolveNonconformity(const Objective& o,
                                             const std::string& key,
                                             absl::Time now,
                                             std::vector<AuditEntry> audit,
                                             Series* series) {
  const v1::ObjectiveStatus& st = series->status;
  // One feature of a drift episode holds again while others still fire:
  // its alert resolves, the episode's record stays as it is.
  if (!EpisodeSeries(o, st.model()).empty() &&
      OthersFiring(key, st.nonconformity_id())) {
    absl::StatusOr<v1::Nonconformity> nc =
        nonconformities_->Get(st.nonconformity_id());
    if (!nc.ok()) return nc.status();
    std::vector<Mutation> m = {
        {Table::kEvaluation, key, st.SerializeAsString()}};
    for (auto& x : notifier_->AlertMutations(*nc, o, st, true, now))
      m.push_back(x);
    return audit_->Commit(std::move(m), audit);
  }
  return nonconformities_
      ->OnResolved(
          st.nonconformity_id(), now, {}, std::move(audit),
          [&](const v1::Nonconformity& nc) {
            std::vector<Mutation> m = {
                {Table::kEvaluation, key, st.SerializeAsString()}};
            for (auto& x : notifier_->AlertMutations(nc, o, st, true, now))
              m.push_back(x);
            for (auto& x : notifier_->WebhookMutations("nonconformity.resolved",
                                                       nc, now)) {
              m.push_back(x);
            }
            return m;
          })
      .status();
}

absl::StatusOr<v1::Nonconformity> Evaluator::Transition(
    const v1::TransitionRequest& request) {
  // No evaluation may change the series between the check and the step
  // (e.g. a recurrence just before a closure).
  absl::MutexLock eval(&eval_mu_);
  absl::StatusOr<v1::Nonconformity> nc = nonconformities_->Get(request.id());
  if (!nc.ok()) return nc.status();
  std::optional<v1::ObjectiveStatus> series;
  absl::Duration period = absl::Hours(1);
  {
    absl::MutexLock lock(&mu_);
    auto it = series_.find(SeriesKey(nc->objective_id(), nc->series()));
    if (it != series_.end()) {
      series = it->second.status;
    } else if (!nc->features().empty()) {
      // A drift episode: the feature series that says most against the
      // step stands for the record.
      for (const auto& [key, s] : series_) {
        if (s.status.nonconformity_id() != nc->id()) continue;
        if (!series || Weight(s.status) > Weight(*series)) series = s.status;
      }
    }
    if (plan_ != nullptr) {
      for (const Objective& o : plan_->objectives) {
        if (o.id == nc->objective_id()) period = o.effectiveness_period;
      }
    }
  }
  const absl::Time now = clock_->Now();
  absl::StatusOr<v1::Nonconformity> out = nonconformities_->Transition(
      request, now, series ? &*series : nullptr, period,
      [&](const v1::Nonconformity& nc) {
        return notifier_->WebhookMutations(
            absl::StrCat("nonconformity.", StageName(nc.stage())), nc, now);
      });
  if (out.ok()) notifier_->Wake();
  return out;
}

absl::StatusOr<v1::Nonconformity> Evaluator::Update(
    const v1::UpdateNonconformityRequest& request) {
  const absl::Time now = clock_->Now();
  absl::StatusOr<v1::Nonconformity> out =
      nonconformities_->Update(request, now, [&](const v1::Nonconformity& nc) {
        return notifier_->WebhookMutations("nonconformity.updated", nc, now);
      });
  if (out.ok()) notifier_->Wake();
  return out;
}

void Evaluator::ReopenExpiredRiskAcceptances(absl::Time now) {
  const std::vector<v1::Nonconformity> reopened =
      nonconformities_->ReopenExpired(
          now,
          [&](const v1::Nonconformity& nc) {
            return notifier_->WebhookMutations("nonconformity.reopened", nc,
                                               now);
          },
          evaluates_);
  for (const v1::Nonconformity& nc : reopened) {
    LogInfo("risk acceptance ended; nonconformity reopened",
            {{"id", nc.id()}, {"stage", StageName(nc.stage())}});
  }
  if (!reopened.empty()) notifier_->Wake();
}

v1::ListPlanVersionsResponse Evaluator::PlanVersions() const {
  const std::string in_force = plan_info().version();
  std::vector<v1::PlanVersion> versions;
  simdjson::dom::parser parser;
  // The audit trail's plan_version records, page by page.
  for (uint64_t from = 0;;) {
    const std::vector<v1::AuditRecord> page = audit_->List(from, 10000);
    for (const v1::AuditRecord& r : page) {
      if (r.kind() != "plan_version") continue;
      simdjson::dom::element doc;
      if (parser.parse(r.body()).get(doc) != simdjson::SUCCESS) continue;
      auto text = [&](const char* field) {
        std::string_view v;
        return doc[field].get(v) == simdjson::SUCCESS ? std::string(v)
                                                      : std::string();
      };
      v1::PlanVersion v;
      v.set_version(text("version"));
      v.set_source(text("source"));
      v.set_actor(r.actor());
      *v.mutable_loaded_at() = r.at();
      uint32_t n = 0;
      if (absl::SimpleAtoi(text("objectives"), &n)) v.set_objectives(n);
      versions.push_back(std::move(v));
    }
    if (page.size() < 10000) break;
    from = page.back().index() + 1;
  }
  v1::ListPlanVersionsResponse response;
  for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
    v1::PlanVersion& v = *it;
    if (absl::StatusOr<std::string> text =
            storage_->Get(Table::kPlans, v.version());
        text.ok()) {
      v.set_text(std::move(*text));
    }
    // The newest load of the version in force.
    v.set_in_force(v.version() == in_force && response.versions().empty());
    *response.add_versions() = std::move(v);
  }
  return response;
}

}  // namespace aims::collector
