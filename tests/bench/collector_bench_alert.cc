#include "tests/bench/collector_bench.h"

namespace aims::bench {

v1::WindowSummary ParitySummary(double f_rate) {
  WindowAccumulator acc(std::make_shared<SummaryConfig>());
  for (int i = 0; i < 400; ++i) {
    Event e;
    const bool f = i % 2 == 0;
    const int k = (i / 2) % 100;
    e.prediction.kind = Outcome::Kind::kClass;
    e.prediction.class_label = k < (f ? f_rate : 0.6) * 100 ? "1" : "0";
    e.attributes = {{"gender", f ? "f" : "m"}};
    acc.Add(e);
  }
  return acc.Build();
}

int Alert(const std::string& dir) {
  std::filesystem::create_directories(dir);
  const std::string am_bin = absl::GetFlag(FLAGS_alertmanager_bin);
  const int am_port = testing::FreePort();
  {
    std::ofstream config(dir + "/alertmanager.yml");
    config << "route:\n  receiver: compliance\n  group_wait: 1s\n"
              "receivers:\n  - name: compliance\n";
    std::ofstream plan(dir + "/plan.yaml");
    plan << "coverage: {enabled: false}\n"
            "objectives:\n"
            "  - id: parity\n"
            "    metric: demographic_parity_ratio\n"
            "    attribute: gender\n"
            "    comparator: \">=\"\n"
            "    threshold: 0.8\n"
            "    window: 30s\n"
            "    evaluation_interval: 5m\n"
            "    for: 0s\n";
  }
  testing::Subprocess am(
      {am_bin, "--config.file=" + dir + "/alertmanager.yml",
       "--storage.path=" + dir + "/am-data",
       absl::StrCat("--web.listen-address=127.0.0.1:", am_port),
       "--cluster.listen-address="},
      dir + "/alertmanager.log");
  httplib::Client am_client("127.0.0.1", am_port);
  if (!testing::WaitFor(
          [&] {
            auto r = am_client.Get("/-/ready");
            return r && r->status == 200;
          },
          absl::Seconds(30))) {
    absl::FPrintF(stderr, "alertmanager not ready\n");
    return 1;
  }
  collector::CollectorOptions options;
  options.grpc_listen = "127.0.0.1:0";
  options.http_listen = "127.0.0.1:0";
  options.data_dir = dir + "/data";
  options.plan_file = dir + "/plan.yaml";
  options.alertmanager_urls = {absl::StrCat("http://127.0.0.1:", am_port)};
  collector::Collector collector(options);  // default 1 s evaluation tick
  if (absl::Status s = collector.Start(); !s.ok()) {
    absl::FPrintF(stderr, "collector: %s\n", s.ToString());
    return 1;
  }
  const v1::WindowSummary breach = ParitySummary(0.3);  // ratio 0.5
  std::vector<double> ms;
  for (int trial = 0; trial < absl::GetFlag(FLAGS_trials); ++trial) {
    // As in a running collector, the objective's last evaluation is more
    // than a second old when the breach arrives.
    absl::SleepFor(absl::Milliseconds(1500));
    v1::ModelRef model;
    model.set_name(absl::StrCat("alert-", trial));
    model.set_version("v1");
    model.set_environment("prod");
    testing::SimulatedAgent agent(collector.grpc_port(), model,
                                  absl::StrCat("alert-agent-", trial));
    agent.Enqueue(absl::Now() - absl::Seconds(10), absl::Seconds(10), breach);
    if (!agent.Flush(absl::Seconds(30))) {
      absl::FPrintF(stderr, "report not acknowledged: %s\n",
                    agent.last_error());
      return 1;
    }
    const absl::Time acked = absl::Now();
    const std::string label = absl::StrCat("\"model\":\"", model.name(), "\"");
    const bool seen = testing::WaitFor(
        [&] {
          for (;;) {
            auto r = am_client.Get("/api/v2/alerts?active=true");
            if (r && r->status == 200 &&
                r->body.find(label) != std::string::npos)
              return true;
            if (absl::Now() - acked > absl::Seconds(30)) return false;
            absl::SleepFor(absl::Milliseconds(5));
          }
        },
        absl::Seconds(31));
    if (!seen) {
      absl::FPrintF(stderr, "no alert for %s\n", model.name());
      return 1;
    }
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - acked));
  }
  collector.Stop();
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  PrintJson("collector_breach_to_alert",
            {{"trials", static_cast<double>(ms.size())},
             {"evaluation_tick_seconds", 1},
             {"p50_ms", sorted[sorted.size() / 2]},
             {"min_ms", sorted.front()},
             {"max_ms", sorted.back()}});
  return 0;
}

}  // namespace aims::bench
