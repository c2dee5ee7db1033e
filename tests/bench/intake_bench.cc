// The agent's HTTP/JSON intake without the network: a body of 500 events of
// 25 features (20 numeric, 5 categorical, 2 attributes; agent_load's shape)
// parsed by simdjson alone, parsed into an EventBatch, and parsed then
// folded into a window. CPU time
// per event, so that changes to the intake are compared on one machine
// whatever the load (agent_load's end-to-end figure varies by 2x on a busy
// 2-core machine).
#include <cmath>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "common/intake/event_json.h"
#include "common/summary/window_state.h"
#include "simdjson.h"

namespace aims {
namespace {

constexpr int kBatch = 500;

std::string Body() {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> u(0, 1);
  const char* genders[] = {"female", "male", "other"};
  const char* bands[] = {"18-29", "30-44", "45-64", "65+"};
  std::string json = "[";
  for (int i = 0; i < kBatch; ++i) {
    std::string features;
    for (int f = 0; f < 20; ++f) {
      const double v = std::round(normal(rng) * 1e4) / 1e4 + f;
      absl::StrAppend(&features, f ? "," : "", "\"num_", f, "\":", v);
    }
    for (int f = 0; f < 5; ++f) {
      absl::StrAppend(&features, ",\"cat_", f, "\":\"v",
                      static_cast<int>(u(rng) * 12), "\"");
    }
    const double score = std::round(u(rng) * 1e4) / 1e4;
    absl::StrAppend(
        &json, i ? "," : "", "{\"features\":{", features,
        "},\"prediction\":", score >= 0.5 ? 1 : 0, ",\"score\":", score,
        ",\"label\":", u(rng) < score ? 1 : 0, ",\"attributes\":{\"gender\":\"",
        genders[static_cast<int>(u(rng) * 3)], "\",\"age_band\":\"",
        bands[static_cast<int>(u(rng) * 4)],
        "\"},\"latency_ms\":", 5 + std::round(u(rng) * 2000) / 100, "}");
  }
  return json + "]";
}

// The JSON parser alone on the same body (simdjson's DOM, as
// ParseEventBatch uses it, its buffers kept between bodies): the floor
// under the intake's cost per event, which the issue 27 target is set
// against.
void BM_JsonParserAlone(benchmark::State& state) {
  const simdjson::padded_string body(Body());
  simdjson::dom::parser parser;
  while (state.KeepRunningBatch(kBatch)) {
    simdjson::dom::element root;
    if (parser.parse(body).get(root) != simdjson::SUCCESS) {
      state.SkipWithError("the body is not JSON");
      return;
    }
    benchmark::DoNotOptimize(root);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() / kBatch * body.size());
}
BENCHMARK(BM_JsonParserAlone);

void BM_ParseEventBatch(benchmark::State& state) {
  const std::string body = Body();
  const JsonIntakeLimits limits;
  // An iteration is one event: times are per event, as the update path's.
  while (state.KeepRunningBatch(kBatch)) {
    EventBatch batch;
    if (!ParseEventBatch(body, limits, &batch).ok() ||
        batch.events.size() != kBatch) {
      state.SkipWithError("the body did not parse into 500 events");
      return;
    }
    benchmark::DoNotOptimize(batch);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() / kBatch * body.size());
}
BENCHMARK(BM_ParseEventBatch);

// Parsed, then folded into the open window as Windower::Add does
// (WindowState::Add: the events as columns, then the column fold; no
// profile).
void BM_ParseAndFold(benchmark::State& state) {
  const std::string body = Body();
  const JsonIntakeLimits limits;
  const JoinLimits join;
  WindowState window(std::make_shared<SummaryConfig>(), &join);
  const absl::Time arrival = absl::Now();
  while (state.KeepRunningBatch(kBatch)) {
    EventBatch batch;
    if (!ParseEventBatch(body, limits, &batch).ok()) {
      state.SkipWithError("the body did not parse");
      return;
    }
    window.Add(batch.events, arrival);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseAndFold);

}  // namespace
}  // namespace aims

BENCHMARK_MAIN();
