// Notifier: delivers alerts to Alertmanager (v2 API, every configured
// instance, as HA wants) and nonconformity events to webhooks (JSON,
// HMAC-SHA256 signature), from a durable outbox so nothing is lost across
// restarts.
//
// Producers turn an event into outbox Mutations (AlertMutations,
// WebhookMutations) and commit them with the state change that caused it;
// the delivery thread then posts each entry, deletes it on success, and
// retries failures with exponential backoff and jitter (1 s doubling to
// 5 min). A 4xx answer is a permanent rejection: the entry is dropped and
// counted. The outbox is bounded (`max_outbox`): beyond it the oldest entry
// is dropped and counted; firing alerts are re-sent every minute anyway. A
// newer message about the same alert to the same Alertmanager replaces an
// undelivered older one (supersede_key; decided by the delivery pass from
// what is stored), so deliveries of an alert never go backwards.
//
// Alertmanager semantics (its API v2 and docs/operations.md): labels identify
// the alert (alertname, objective, model, model_version, environment, severity,
// iso_clause, and the series' feature / attribute / group / agent);
// annotations carry the evidence; a firing alert's endsAt is a lease of
// 4 x max(evaluation interval, 1 min) re-sent every minute, a resolution is
// sent at once with endsAt = resolution time.
//
// Thread-safety: safe.
#ifndef AIMS_COLLECTOR_NOTIFY_NOTIFIER_H_
#define AIMS_COLLECTOR_NOTIFY_NOTIFIER_H_

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "aims/v1/nonconformity.pb.h"
#include "collector/plan/plan.h"
#include "collector/storage/storage.h"
#include "common/base/clock.h"

namespace aims::collector {

struct NotifierOptions {
  std::vector<std::string> alertmanager_urls;  // e.g. http://127.0.0.1:9093
  std::vector<std::string> webhook_urls;
  std::string webhook_secret;  // HMAC key; empty: unsigned
  // Base of generatorURL links, e.g. http://collector:9464.
  std::string external_url = "http://127.0.0.1:9464";
  size_t max_outbox = 10000;
  absl::Duration request_timeout = absl::Seconds(5);
};

struct NotifierCounters {
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> failed_attempts{0};
  std::atomic<uint64_t> rejected{0};
  std::atomic<uint64_t> dropped{0};
  // Undelivered alerts replaced by a newer message about the same alert.
  std::atomic<uint64_t> superseded{0};
};

// An alert's description annotation: "accuracy = 0.85 must be >= 0.9 over
// 5m (n = 200)"; when `status` has no value (evidence lapsed while the
// series is still firing), since when there is none and the value `nc`
// opened on.
std::string AlertDescription(const v1::Nonconformity& nc,
                             const Objective& objective,
                             const v1::ObjectiveStatus& status);

class Notifier {
 public:
  Notifier(Storage* storage, const Clock* clock, NotifierOptions options);
  ~Notifier();

  // Counts the outbox left by an earlier run.
  absl::Status Load();
  void Start();
  void Stop();

  bool enabled() const {
    return !options_.alertmanager_urls.empty() ||
           !options_.webhook_urls.empty();
  }
  // Outbox entries for an Alertmanager alert about `nc`'s series: firing
  // (lease until now + lease) or resolved at `now`.
  std::vector<Mutation> AlertMutations(const v1::Nonconformity& nc,
                                       const Objective& objective,
                                       const v1::ObjectiveStatus& status,
                                       bool resolved, absl::Time now);
  // Outbox entries for a webhook event ("nonconformity.opened", ...).
  std::vector<Mutation> WebhookMutations(const std::string& event,
                                         const v1::Nonconformity& nc,
                                         absl::Time now);
  // Call after committing mutations from this notifier.
  void Wake();

  // Delivers every entry due now; returns how many were delivered. The
  // thread calls it; tests may too.
  int DeliverDue();

  size_t depth() const;
  const NotifierCounters& counters() const { return counters_; }

 private:
  // `supersede_key`: non-empty for alerts (URL + labels); DeliverDue
  // deletes an entry undelivered once a newer one with the same key exists.
  std::vector<Mutation> Enqueue(const std::string& url, const std::string& kind,
                                std::string body,
                                const std::string& supersede_key,
                                absl::Time now);
  void Run();

  Storage* const storage_;
  const Clock* const clock_;
  const NotifierOptions options_;
  NotifierCounters counters_;
  mutable absl::Mutex mu_;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  // Keys of entries in the outbox, oldest first (bounded by max_outbox).
  std::set<std::string> keys_ ABSL_GUARDED_BY(mu_);
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex deliver_mu_;  // one delivery pass at a time
  std::thread thread_;
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_NOTIFY_NOTIFIER_H_
