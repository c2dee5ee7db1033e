#include "tests/bench/collector_bench.h"

namespace aims::bench {

// An event of the evaluation models: 20 numeric and 5 categorical features,
// gender and age band, score, class and label, latency.
Event EvalEvent(std::mt19937& rng) {
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> u(0, 1);
  const char* bands[] = {"18-29", "30-44", "45-64", "65+"};
  Event e;
  for (int f = 0; f < 20; ++f) {
    e.features.emplace_back(
        absl::StrCat("num_", f),
        FeatureValue{FeatureValue::Kind::kNumber, normal(rng), ""});
  }
  for (int f = 0; f < 5; ++f) {
    e.features.emplace_back(
        absl::StrCat("cat_", f),
        FeatureValue{FeatureValue::Kind::kCategory, 0,
                     absl::StrCat("v", static_cast<int>(u(rng) * 8))});
  }
  e.score = u(rng);
  e.prediction.kind = Outcome::Kind::kNumber;
  e.prediction.number = *e.score >= 0.5;
  e.label.kind = Outcome::Kind::kNumber;
  e.label.number = u(rng) < *e.score;
  e.attributes.emplace_back("gender", u(rng) < 0.5 ? "female" : "male");
  e.attributes.emplace_back("age_band", bands[static_cast<int>(u(rng) * 4)]);
  e.latency_seconds = 0.01 + u(rng) / 50;
  return e;
}

// The objectives of one model: 100 specs (metric, feature, attribute,
// group, comparator, threshold), each one series.
struct Spec {
  std::string metric, feature, attribute, group, comparator;
  double threshold;
};
std::vector<Spec> ModelSpecs() {
  std::vector<Spec> specs;
  for (int f = 0; f < 20; ++f) {
    const std::string name = absl::StrCat("num_", f);
    specs.push_back({"psi", name, "", "", "<=", 0.2});
    specs.push_back({"ks_statistic", name, "", "", "<=", 0.1});
    specs.push_back({"wasserstein_norm", name, "", "", "<=", 0.1});
  }
  for (int f = 0; f < 5; ++f) {
    const std::string name = absl::StrCat("cat_", f);
    specs.push_back({"psi", name, "", "", "<=", 0.2});
    specs.push_back({"js_distance", name, "", "", "<=", 0.1});
  }
  specs.push_back({"psi", std::string(kPredictionFeature), "", "", "<=", 0.2});
  specs.push_back({"hellinger", "num_0", "", "", "<=", 0.1});
  specs.push_back({"hellinger", "num_1", "", "", "<=", 0.1});
  for (auto [metric, cmp, t] : {std::tuple{"accuracy", ">=", 0.6},
                                {"precision", ">=", 0.5},
                                {"recall", ">=", 0.5},
                                {"f1", ">=", 0.5},
                                {"f1_macro", ">=", 0.5},
                                {"log_loss", "<=", 0.7},
                                {"brier", "<=", 0.25},
                                {"roc_auc", ">=", 0.7},
                                {"latency_p99", "<=", 0.05},
                                {"error_rate", "<=", 0.01},
                                {"drifted_feature_share", "<=", 0.2}}) {
    specs.push_back({metric, "", "", "", cmp, t});
  }
  for (const char* attribute : {"gender", "age_band"}) {
    specs.push_back({"demographic_parity_ratio", "", attribute, "", ">=", 0.8});
    specs.push_back(
        {"equal_opportunity_difference", "", attribute, "", "<=", 0.1});
    specs.push_back(
        {"equalized_odds_difference", "", attribute, "", "<=", 0.1});
    specs.push_back(
        {"predictive_parity_difference", "", attribute, "", "<=", 0.1});
  }
  for (const char* g : {"female", "male"}) {
    specs.push_back({"selection_rate", "", "gender", g, ">=", 0.1});
    specs.push_back({"true_positive_rate", "", "gender", g, ">=", 0.5});
  }
  for (const char* g : {"18-29", "30-44", "45-64", "65+"}) {
    specs.push_back({"selection_rate", "", "age_band", g, ">=", 0.1});
  }
  return specs;
}

int Evaluate(const std::string& dir) {
  const int models = absl::GetFlag(FLAGS_models);
  const int objectives = absl::GetFlag(FLAGS_objectives);
  const std::vector<Spec> specs = ModelSpecs();
  if (models < 1 || objectives < models ||
      objectives > models * static_cast<int>(specs.size())) {
    absl::FPrintF(stderr, "--objectives: %d..%d for %d models\n", models,
                  models * specs.size(), models);
    return 2;
  }
  auto model_ref = [](int m) {
    v1::ModelRef ref;
    ref.set_name(absl::StrFormat("eval-%03d", m));
    ref.set_version("v1");
    ref.set_environment("prod");
    return ref;
  };
  // A reference profile and a pool of window summaries binned on it.
  std::mt19937 rng(11);
  ProfileBuilder builder{ProfileBuildOptions()};
  for (int i = 0; i < 2000; ++i) builder.Add(EvalEvent(rng));
  const v1::ReferenceProfile base_profile =
      *builder.Build(model_ref(0), v1::PROFILE_SOURCE_TRAINING_DATA, "bench");
  auto config = std::make_shared<SummaryConfig>();
  config->profile = std::make_shared<v1::ReferenceProfile>(base_profile);
  std::vector<v1::WindowSummary> pool;
  for (int s = 0; s < 8; ++s) {
    WindowAccumulator acc(config);
    for (int i = 0; i < 200; ++i) acc.Add(EvalEvent(rng));
    pool.push_back(acc.Build());
  }

  FakeClock clock(
      absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) / 60 * 60));
  const absl::Time now = clock.Now();
  collector::RocksStorageOptions storage_options;
  storage_options.path = dir;
  storage_options.sync_writes = true;  // as the collector runs
  auto opened = collector::RocksStorage::Open(storage_options);
  if (!opened.ok()) {
    absl::FPrintF(stderr, "%s\n", opened.status().ToString());
    return 1;
  }
  collector::RocksStorage& storage = **opened;
  const absl::Time load_start = absl::Now();
  constexpr int kWindows = 60;  // 10 minutes of 10 s windows
  for (int m = 0; m < models; ++m) {
    v1::Hello hello;
    hello.mutable_agent()->set_agent_id(absl::StrCat("eval-agent-", m));
    *hello.mutable_model() = model_ref(m);
    (void)storage.RegisterAgent(hello, now);
    v1::ReferenceProfile profile = base_profile;
    *profile.mutable_model() = model_ref(m);
    profile.set_profile_id(ComputeProfileId(profile));
    bool created = false;
    if (auto put = storage.PutProfile(profile, false, &created); !put.ok()) {
      absl::FPrintF(stderr, "%s\n", put.status().ToString());
      return 1;
    }
    std::vector<v1::WindowReport> batch(kWindows);
    std::vector<const v1::WindowReport*> ptrs;
    for (int w = 0; w < kWindows; ++w) {
      v1::WindowReport& r = batch[w];
      r.set_agent_id(hello.agent().agent_id());
      r.set_sequence(w + 1);
      const absl::Time start = now - absl::Seconds(10 * (kWindows - w));
      *r.mutable_window_start() = ToProto(start);
      *r.mutable_window_end() = ToProto(start + absl::Seconds(10));
      *r.mutable_summary() = pool[(m + w) % pool.size()];
      r.mutable_summary()->set_profile_id(profile.profile_id());
      ptrs.push_back(&r);
    }
    std::vector<collector::WriteOutcome> outcomes;
    if (absl::Status s = storage.WriteReports(ptrs, now, &outcomes); !s.ok()) {
      absl::FPrintF(stderr, "%s\n", s.ToString());
      return 1;
    }
  }
  for (;;) {
    auto stats = storage.Maintain(now);
    if (!stats.ok() || !stats->budget_exhausted) break;
  }
  const double load_seconds = absl::ToDoubleSeconds(absl::Now() - load_start);

  std::string yaml =
      "coverage: {enabled: false}\n"
      "defaults: {window: 10m, evaluation_interval: 30s}\n"
      "objectives:\n";
  const int per_model = objectives / models;
  for (int m = 0; m < models; ++m) {
    const int here = per_model + (m < objectives % models ? 1 : 0);
    for (int i = 0; i < here; ++i) {
      const Spec& spec = specs[i];
      absl::StrAppendFormat(&yaml,
                            "  - id: m%03d-%03d\n"
                            "    model: {name: %s}\n"
                            "    metric: %s\n",
                            m, i, model_ref(m).name(), spec.metric);
      if (!spec.feature.empty())
        absl::StrAppend(&yaml, "    feature: \"", spec.feature, "\"\n");
      if (!spec.attribute.empty())
        absl::StrAppend(&yaml, "    attribute: ", spec.attribute, "\n");
      if (!spec.group.empty())
        absl::StrAppend(&yaml, "    group: \"", spec.group, "\"\n");
      absl::StrAppend(&yaml, "    comparator: \"", spec.comparator,
                      "\"\n    threshold: ", spec.threshold, "\n");
    }
  }
  double cpu = ProcessCpuSeconds();
  absl::Time wall = absl::Now();
  absl::StatusOr<collector::Plan> plan =
      collector::ParsePlan(yaml, "bench-plan.yaml");
  if (!plan.ok()) {
    absl::FPrintF(stderr, "%s\n", plan.status().ToString());
    return 1;
  }
  const double parse_cpu = ProcessCpuSeconds() - cpu;
  const size_t plan_objectives = plan->objectives.size();

  collector::AuditTrail audit(&storage, &clock);
  collector::Nonconformities ncs(&storage, &audit);
  collector::Notifier notifier(&storage, &clock, collector::NotifierOptions{});
  collector::Evaluator evaluator(&storage, &audit, &ncs, &notifier, &clock);
  if (!audit.Load().ok() || !ncs.Load().ok() || !evaluator.Load().ok()) {
    absl::FPrintF(stderr, "cannot load evaluation state\n");
    return 1;
  }
  cpu = ProcessCpuSeconds();
  if (auto set = evaluator.SetPlan(std::move(*plan), "bench"); !set.ok()) {
    absl::FPrintF(stderr, "%s\n", set.status().ToString());
    return 1;
  }
  const double set_plan_cpu = ProcessCpuSeconds() - cpu;

  std::vector<std::pair<std::string, double>> out = {
      {"models", models},
      {"objectives", static_cast<double>(plan_objectives)},
      {"reports_per_model", kWindows},
      {"load_seconds", load_seconds},
      {"plan_bytes", static_cast<double>(yaml.size())},
      {"parse_plan_cpu_seconds", parse_cpu},
      {"set_plan_cpu_seconds", set_plan_cpu}};
  for (const char* pass : {"first", "steady"}) {
    cpu = ProcessCpuSeconds();
    wall = absl::Now();
    const int evaluated = evaluator.EvaluateDue();
    const double pass_cpu = ProcessCpuSeconds() - cpu;
    const double pass_wall = absl::ToDoubleSeconds(absl::Now() - wall);
    out.push_back({absl::StrCat(pass, "_series_evaluated"), evaluated});
    out.push_back({absl::StrCat(pass, "_cpu_seconds"), pass_cpu});
    out.push_back({absl::StrCat(pass, "_wall_seconds"), pass_wall});
    clock.Advance(absl::Seconds(30));  // every objective due again
  }
  std::map<v1::ObjectiveState, int> states;
  for (const v1::ObjectiveStatus& st :
       evaluator.States(v1::ListObjectiveStatesRequest()))
    ++states[st.state()];
  double series = 0;
  for (const auto& [state, n] : states) series += n;
  out.push_back({"series", series});
  for (const auto& [state, n] : states) {
    out.push_back(
        {absl::StrCat("series_", collector::ObjectiveStateName(state)), n});
  }
  out.push_back(
      {"errors", static_cast<double>(evaluator.counters().errors.load())});
  PrintJson("collector_evaluate", out);
  return evaluator.counters().errors.load() == 0 ? 0 : 1;
}

// One window of 400 events for `model`: group f selected at `f_rate`, m at
// 0.6 (demographic parity ratio f_rate / 0.6).

}  // namespace aims::bench
