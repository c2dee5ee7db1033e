// The evaluation side of a collector on a real RocksDB in a temp dir with a
// FakeClock, for the evaluator's tests: storage, audit trail,
// nonconformities, notifier and evaluator, and reports to feed them.
//
// Thread-safety: one test thread.
#ifndef AIMS_TESTS_COLLECTOR_EVALUATION_EVALUATION_STACK_H_
#define AIMS_TESTS_COLLECTOR_EVALUATION_EVALUATION_STACK_H_

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "collector/evaluation/evaluator.h"
#include "collector/storage/rocks_storage.h"
#include "common/base/time_util.h"
#include "common/summary/window_accumulator.h"
#include "gtest/gtest.h"

namespace aims::collector {

// One objective decided on the point value: the demographic parity ratio
// of gender (Stack::Report's f_rate against 0.6) at least 0.8, breached for
// 20 s before it fires, holding for 10 s before it resolves.
inline constexpr char kParityPlan[] = R"(
coverage: {enabled: false}
defaults: {window: 30s, evaluation_interval: 10s, min_samples: 50,
           decision: point}
objectives:
  - id: parity
    metric: demographic_parity_ratio
    attribute: gender
    comparator: ">="
    threshold: 0.8
    for: 20s
    keep_firing_for: 10s
)";

inline v1::ModelRef Model() {
  v1::ModelRef m;
  m.set_name("credit");
  m.set_version("v1");
  m.set_environment("prod");
  return m;
}

// Everything the evaluation side needs, opened on `dir` (re-openable to
// simulate a restart).
struct Stack {
  Stack(const std::string& dir, FakeClock* clock, const std::string& plan_yaml,
        NotifierOptions notifier_options = {}) {
    RocksStorageOptions options;
    options.path = dir;
    options.sync_writes = false;
    storage = std::move(*RocksStorage::Open(options));
    audit = std::make_unique<AuditTrail>(storage.get(), clock);
    EXPECT_TRUE(audit->Load().ok());
    ncs = std::make_unique<Nonconformities>(storage.get(), audit.get());
    EXPECT_TRUE(ncs->Load().ok());
    notifier = std::make_unique<Notifier>(storage.get(), clock,
                                          std::move(notifier_options));
    evaluator = std::make_unique<Evaluator>(storage.get(), audit.get(),
                                            ncs.get(), notifier.get(), clock);
    EXPECT_TRUE(evaluator->Load().ok());
    absl::StatusOr<Plan> plan = ParsePlan(plan_yaml, "plan.yaml");
    EXPECT_TRUE(plan.ok()) << plan.status();
    EXPECT_TRUE(evaluator->SetPlan(*plan, "test").ok());
    v1::Hello hello;
    hello.mutable_agent()->set_agent_id("pod-a");
    *hello.mutable_model() = Model();
    EXPECT_TRUE(storage->RegisterAgent(hello, clock->Now()).ok());
  }

  // Registers another agent of the model, seen now.
  void AddAgent(const FakeClock& clock, const std::string& agent_id) {
    v1::Hello hello;
    hello.mutable_agent()->set_agent_id(agent_id);
    *hello.mutable_model() = Model();
    EXPECT_TRUE(storage->RegisterAgent(hello, clock.Now()).ok());
  }

  // Stores `agent`'s report of [start, end) holding `summary`, received at
  // the clock's time.
  void Store(const FakeClock& clock, const std::string& agent,
             uint64_t sequence, absl::Time start, absl::Time end,
             const v1::WindowSummary& summary) {
    v1::WindowReport r;
    r.set_agent_id(agent);
    r.set_sequence(sequence);
    *r.mutable_window_start() = ToProto(start);
    *r.mutable_window_end() = ToProto(end);
    *r.mutable_summary() = summary;
    std::vector<const v1::WindowReport*> reports = {&r};
    std::vector<WriteOutcome> outcomes;
    ASSERT_TRUE(storage->WriteReports(reports, clock.Now(), &outcomes).ok());
  }

  // `n` labelled events, each predicted correctly with probability
  // `accuracy` (drawn from `rng`), half of them in group f of gender.
  static v1::WindowSummary Labelled(int n, double accuracy,
                                    std::mt19937_64* rng) {
    WindowAccumulator acc(std::make_shared<SummaryConfig>());
    std::bernoulli_distribution correct(accuracy);
    for (int i = 0; i < n; ++i) {
      Event e;
      e.prediction.kind = Outcome::Kind::kClass;
      e.prediction.class_label = i % 3 == 0 ? "1" : "0";
      e.label.kind = Outcome::Kind::kClass;
      const bool right = correct(*rng);
      e.label.class_label = right
                                ? e.prediction.class_label
                                : (e.prediction.class_label == "1" ? "0" : "1");
      e.attributes = {{"gender", i % 2 == 0 ? "f" : "m"}};
      acc.Add(e);
    }
    return acc.Build();
  }

  // A 10 s window ending now: 200 labelled events, group f selected at
  // `f_rate`, group m at 0.6.
  void Report(FakeClock* clock, double f_rate) {
    WindowAccumulator acc(std::make_shared<SummaryConfig>());
    for (int i = 0; i < 200; ++i) {
      Event e;
      const bool f = i % 2 == 0;
      const int k = i / 2;
      const bool positive = k < (f ? f_rate : 0.6) * 100;
      e.prediction.kind = Outcome::Kind::kClass;
      e.prediction.class_label = positive ? "1" : "0";
      e.label.kind = Outcome::Kind::kClass;
      e.label.class_label = positive ? "1" : "0";
      e.attributes = {{"gender", f ? "f" : "m"}};
      acc.Add(e);
    }
    v1::WindowReport r;
    r.set_agent_id("pod-a");
    r.set_sequence(++sequence);
    *r.mutable_window_start() = ToProto(clock->Now() - absl::Seconds(10));
    *r.mutable_window_end() = ToProto(clock->Now());
    *r.mutable_summary() = acc.Build();
    std::vector<const v1::WindowReport*> reports = {&r};
    std::vector<WriteOutcome> outcomes;
    ASSERT_TRUE(storage->WriteReports(reports, clock->Now(), &outcomes).ok());
  }

  v1::ObjectiveStatus State(const std::string& objective) {
    v1::ListObjectiveStatesRequest request;
    request.set_objective_id(objective);
    std::vector<v1::ObjectiveStatus> states = evaluator->States(request);
    EXPECT_EQ(states.size(), 1u) << objective;
    return states.empty() ? v1::ObjectiveStatus() : states[0];
  }

  uint64_t sequence = 0;
  std::unique_ptr<RocksStorage> storage;
  std::unique_ptr<AuditTrail> audit;
  std::unique_ptr<Nonconformities> ncs;
  std::unique_ptr<Notifier> notifier;
  std::unique_ptr<Evaluator> evaluator;
};

}  // namespace aims::collector

#endif  // AIMS_TESTS_COLLECTOR_EVALUATION_EVALUATION_STACK_H_
