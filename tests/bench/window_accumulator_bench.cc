// Event update path of the agent: folding inference events into the open
// window's summary, in batches of 500 as columns (EventColumns). Shape from the
// metric-engines issue: 20 numeric and 5 categorical features, 2 sensitive
// attributes, binary task with labels.
#include <random>

#include "benchmark/benchmark.h"
#include "common/summary/profile_builder.h"
#include "common/summary/window_accumulator.h"

namespace aims {
namespace {

std::vector<Event> MakeEvents(size_t n) {
  std::mt19937 rng(42);
  std::normal_distribution<double> normal(0, 1);
  std::uniform_int_distribution<int> cat(0, 9);
  std::vector<Event> events(n);
  for (Event& e : events) {
    for (int f = 0; f < 20; ++f) {
      e.features.emplace_back(
          "num_" + std::to_string(f),
          FeatureValue{FeatureValue::Kind::kNumber, normal(rng), ""});
    }
    for (int f = 0; f < 5; ++f) {
      e.features.emplace_back("cat_" + std::to_string(f),
                              FeatureValue{FeatureValue::Kind::kCategory, 0,
                                           "v" + std::to_string(cat(rng))});
    }
    e.score = std::uniform_real_distribution<double>(0, 1)(rng);
    e.prediction.kind = Outcome::Kind::kNumber;
    e.prediction.number = *e.score >= 0.5;
    e.label.kind = Outcome::Kind::kNumber;
    e.label.number = cat(rng) < 5;
    e.attributes.emplace_back("gender", cat(rng) < 5 ? "female" : "male");
    e.attributes.emplace_back("age_band",
                              "band" + std::to_string(cat(rng) % 4));
    e.latency_seconds = 0.02;
  }
  return events;
}

// Events of `events` in batches of 500 columns, as the intake hands them to
// the fold.
std::vector<EventColumns> Batches(const std::vector<Event>& events) {
  std::vector<EventColumns> batches(events.size() / 500);
  for (size_t i = 0; i < batches.size() * 500; ++i) {
    batches[i / 500].Append(events[i]);
  }
  return batches;
}

std::shared_ptr<SummaryConfig> ProfiledConfig(
    const std::vector<Event>& events) {
  ProfileBuildOptions build;
  ProfileBuilder builder(build);
  for (const Event& e : events) builder.Add(e);
  v1::ModelRef model;
  model.set_name("bench");
  model.set_version("v1");
  model.set_environment("any");
  auto profile =
      builder.Build(model, v1::PROFILE_SOURCE_TRAINING_DATA, "bench");
  auto config = std::make_shared<SummaryConfig>();
  config->profile = std::make_shared<v1::ReferenceProfile>(*profile);
  return config;
}

// The update path: batches of 500 events folded column by column, without
// a profile (every numeric feature keeps a quantile sketch).
void BM_WindowAccumulatorAdd(benchmark::State& state) {
  const std::vector<EventColumns> batches = Batches(MakeEvents(4000));
  WindowAccumulator acc(std::make_shared<SummaryConfig>());
  size_t i = 0;
  for (auto _ : state) {
    acc.AddColumns(batches[i++ % batches.size()]);
  }
  state.SetItemsProcessed(state.iterations() * 500);
}
BENCHMARK(BM_WindowAccumulatorAdd);

// The same on a reference profile: every feature is also binned, profiled
// numeric features keep no sketch (the default, --feature_sketches=
// unprofiled); with range(0) slice keys (age_band, an attribute, then
// cat_0, a categorical feature), each value of which folds the rows again,
// counts only; range(1) = 1: every numeric feature keeps a sketch too
// (--feature_sketches=all).
void BM_WindowAccumulatorAddWithProfile(benchmark::State& state) {
  const std::vector<Event> events = MakeEvents(4000);
  const std::vector<EventColumns> batches = Batches(events);
  auto config = ProfiledConfig(events);
  const std::vector<std::string> keys = {"age_band", "cat_0"};
  config->slice_keys.assign(keys.begin(), keys.begin() + state.range(0));
  if (state.range(1) == 1) {
    config->feature_sketches = SummaryConfig::FeatureSketches::kAll;
  }
  WindowAccumulator acc(config);
  size_t i = 0;
  for (auto _ : state) {
    acc.AddColumns(batches[i++ % batches.size()]);
  }
  state.SetItemsProcessed(state.iterations() * 500);
  state.counters["summary_bytes"] =
      static_cast<double>(acc.Build().ByteSizeLong());
}
BENCHMARK(BM_WindowAccumulatorAddWithProfile)
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({2, 0})
    ->Args({0, 1});

// One event at a time (WindowAccumulator::Add: a batch of one), on the
// profile: what a caller without batches pays.
void BM_WindowAccumulatorAddOneEvent(benchmark::State& state) {
  const std::vector<Event> events = MakeEvents(4096);
  WindowAccumulator acc(ProfiledConfig(events));
  size_t i = 0;
  for (auto _ : state) {
    acc.Add(events[i++ & 4095]);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WindowAccumulatorAddOneEvent);

// Turning `Event` objects into columns (EventColumns::Append), 500 a batch:
// the cost of an intake that parses into events first.
void BM_EventColumnsAppend(benchmark::State& state) {
  const std::vector<Event> events = MakeEvents(4000);
  EventColumns batch;
  size_t i = 0;
  for (auto _ : state) {
    batch.Clear();
    const size_t from = (i++ % 8) * 500;
    for (size_t k = 0; k < 500; ++k) batch.Append(events[from + k]);
    benchmark::DoNotOptimize(batch.rows());
  }
  state.SetItemsProcessed(state.iterations() * 500);
}
BENCHMARK(BM_EventColumnsAppend);

void BM_WindowSummaryBuild(benchmark::State& state) {
  const std::vector<Event> events = MakeEvents(4000);
  WindowAccumulator acc(std::make_shared<SummaryConfig>());
  for (const EventColumns& batch : Batches(events)) acc.AddColumns(batch);
  size_t bytes = 0;
  for (auto _ : state) {
    v1::WindowSummary s = acc.Build();
    bytes = s.ByteSizeLong();
    benchmark::DoNotOptimize(bytes);
  }
  state.counters["summary_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_WindowSummaryBuild);

// One numeric value into a feature's quantile sketch (normal values, random
// signs): the share of the update path that the sketch costs.
void BM_QuantileSketchAdd(benchmark::State& state) {
  std::mt19937 rng(3);
  std::normal_distribution<double> normal(0, 1);
  std::vector<double> values(4096);
  for (double& v : values) v = normal(rng);
  QuantileSketch sketch;
  size_t i = 0;
  for (auto _ : state) sketch.Add(values[i++ & 4095]);
  benchmark::DoNotOptimize(sketch.count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_QuantileSketchAdd);

}  // namespace
}  // namespace aims

BENCHMARK_MAIN();
