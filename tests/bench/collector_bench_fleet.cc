// collector_bench --mode=fleet (see collector_bench.cc).
#include <signal.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "collector/fleet/etcd_client.h"
#include "collector/fleet/rendezvous.h"
#include "tests/bench/collector_bench.h"

namespace aims::bench {
namespace {

struct FleetCollector {
  std::string address;  // gRPC, advertised
  int http_port = 0;
  std::unique_ptr<testing::Subprocess> process;
};

// CPU seconds (user + system) of process `pid` so far, from /proc.
double ProcessCpuSecondsOf(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  // Fields after the command name (in parentheses, may hold spaces).
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) {
      stime = std::stod(field);
      break;
    }
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double Metric(const FleetCollector& c, const std::string& series) {
  auto page = httplib::Client("127.0.0.1", c.http_port).Get("/metrics");
  return page && page->status == 200 ? testing::MetricValue(page->body, series)
                                     : -1;
}

// The 15 performance and fairness objectives the simulated reports can
// answer (they carry labels, scores, latency and gender, no reference
// profile), each matching every model: a series per model (and per group
// where the metric has groups), judged over the last hour (the simulated
// windows start an hour ago). Every series is due every 10 s.
std::string EvaluationPlan() {
  std::string yaml =
      "coverage: {enabled: false}\n"
      "defaults: {window: 10m, evaluation_interval: 10s}\n"
      "objectives:\n";
  auto add = [&](const std::string& metric, const std::string& attribute,
                 const std::string& comparator, double threshold) {
    absl::StrAppend(&yaml, "  - id: ", metric, attribute.empty() ? "" : "-",
                    attribute, "\n    metric: ", metric, "\n");
    if (!attribute.empty())
      absl::StrAppend(&yaml, "    attribute: ", attribute, "\n");
    absl::StrAppend(&yaml, "    comparator: \"", comparator,
                    "\"\n    threshold: ", threshold, "\n");
  };
  for (auto [metric, comparator, threshold] :
       {std::tuple{"accuracy", ">=", 0.6},
        {"precision", ">=", 0.5},
        {"recall", ">=", 0.5},
        {"f1", ">=", 0.5},
        {"log_loss", "<=", 0.7},
        {"brier", "<=", 0.25},
        {"roc_auc", ">=", 0.7},
        {"latency_p99", "<=", 0.05},
        {"error_rate", "<=", 0.5}}) {
    add(metric, "", comparator, threshold);
  }
  add("demographic_parity_ratio", "gender", ">=", 0.8);
  add("equal_opportunity_difference", "gender", "<=", 0.1);
  add("equalized_odds_difference", "gender", "<=", 0.1);
  add("predictive_parity_difference", "gender", "<=", 0.1);
  add("selection_rate", "gender", ">=", 0.1);      // f and m
  add("true_positive_rate", "gender", ">=", 0.5);  // f and m
  return yaml;
}

double Sum(const std::vector<FleetCollector>& collectors, int skip,
           const std::string& series) {
  double sum = 0;
  for (int i = 0; i < static_cast<int>(collectors.size()); ++i) {
    if (i != skip) sum += std::max(0.0, Metric(collectors[i], series));
  }
  return sum;
}

// testing::WaitFor, polling every 200 ms instead of 20: a scrape of
// /metrics exports every series of the plan, and scrapes every 20 ms took
// a fifth of a collector's CPU in a profile of the evaluation phase.
bool PollFor(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(200));
  }
  return true;
}

double CpuSeconds(const std::vector<FleetCollector>& collectors) {
  double sum = 0;
  for (const FleetCollector& c : collectors)
    sum += ProcessCpuSecondsOf(c.process->pid());
  return sum;
}

// Waits until the collectors' maintenance has rolled up what the load
// wrote (no rollup built for 25 s, two maintenance intervals and more), as
// it keeps up with agents that report in real time; appends the wait.
void AwaitRollups(const std::vector<FleetCollector>& collectors,
                  std::vector<std::pair<std::string, double>>* fields) {
  const std::string built = "aims_collector_rollups_total{result=\"built\"}";
  const absl::Time start = absl::Now();
  double last = Sum(collectors, -1, built);
  absl::Time changed = absl::Now();
  while (absl::Now() - changed < absl::Seconds(25) &&
         absl::Now() - start < absl::Minutes(5)) {
    absl::SleepFor(absl::Seconds(1));
    if (const double now_built = Sum(collectors, -1, built);
        now_built != last) {
      last = now_built;
      changed = absl::Now();
    }
  }
  fields->emplace_back("rollups_built", last);
  fields->emplace_back("rollup_wait_seconds",
                       absl::ToDoubleSeconds(changed - start));
}

// The objective series `c` exports (those of the models it owns).
int SeriesExported(const FleetCollector& c) {
  auto page = httplib::Client("127.0.0.1", c.http_port).Get("/metrics");
  if (!page || page->status != 200) return 0;
  int n = 0;
  for (absl::string_view line : absl::StrSplit(page->body, '\n')) {
    n += absl::StartsWith(line,
                          "aims_objective_last_evaluation_timestamp_seconds{");
  }
  return n;
}

// Loads the evaluation plan into every collector (SIGHUP re-reads --plan)
// and measures the first pass over every series of the fleet (until the
// evaluations stop for 3 s: the next pass is due 10 s after the first),
// then the evaluations of `seconds` steady seconds; appends the figures.
bool MeasureEvaluation(const std::vector<FleetCollector>& collectors,
                       const std::string& plan_path, int models, int seconds,
                       std::vector<std::pair<std::string, double>>* fields) {
  AwaitRollups(collectors, fields);
  const std::string evaluations = "aims_collector_evaluations_total";
  std::ofstream(plan_path) << EvaluationPlan();
  const double before = Sum(collectors, -1, evaluations);
  const double cpu_before = CpuSeconds(collectors);
  const absl::Time loaded = absl::Now();
  for (const FleetCollector& c : collectors) ::kill(c.process->pid(), SIGHUP);
  double evaluated = 0;
  double cpu = 0;
  absl::Time last_change = loaded;
  while (evaluated == 0 || absl::Now() - last_change < absl::Seconds(3)) {
    if (absl::Now() - loaded > absl::Minutes(2)) {
      absl::FPrintF(stderr, "no first pass after 2 minutes (%g evaluated)\n",
                    evaluated);
      return false;
    }
    absl::SleepFor(absl::Milliseconds(200));
    if (const double now = Sum(collectors, -1, evaluations) - before;
        now != evaluated) {
      evaluated = now;
      last_change = absl::Now();
      cpu = CpuSeconds(collectors) - cpu_before;
    }
  }
  int series = 0;
  for (const FleetCollector& c : collectors) series += SeriesExported(c);
  if (series < models || evaluated < series) {
    absl::FPrintF(stderr, "%d series exported, %g evaluated, %d models\n",
                  series, evaluated, models);
    return false;
  }
  fields->emplace_back("series", series);
  fields->emplace_back("first_pass_evaluations", evaluated);
  fields->emplace_back("first_pass_seconds",
                       absl::ToDoubleSeconds(last_change - loaded));
  fields->emplace_back("first_pass_collectors_cpu_seconds", cpu);
  const double steady_before = Sum(collectors, -1, evaluations);
  const double steady_cpu_before = CpuSeconds(collectors);
  absl::SleepFor(absl::Seconds(seconds));
  const double steady = Sum(collectors, -1, evaluations) - steady_before;
  const double steady_cpu = CpuSeconds(collectors) - steady_cpu_before;
  fields->emplace_back("evaluations_per_second", steady / seconds);
  fields->emplace_back("evaluations_per_collector_cpu_second",
                       steady / steady_cpu);
  fields->emplace_back(
      "evaluation_errors",
      Sum(collectors, -1, "aims_collector_evaluation_errors_total"));
  return true;
}

}  // namespace

int Fleet(const std::string& dir) {
  const int n = absl::GetFlag(FLAGS_collectors);
  if (n < 1 || n > 5) {
    absl::FPrintF(stderr, "--collectors: 1 to 5\n");
    return 2;
  }
  std::filesystem::create_directories(dir);
  const std::string etcd_address =
      absl::StrCat("127.0.0.1:", testing::FreePort());
  const std::string peer =
      absl::StrCat("http://127.0.0.1:", testing::FreePort());
  testing::Subprocess etcd(
      {absl::GetFlag(FLAGS_etcd_bin), "--name=bench",
       "--data-dir=" + dir + "/etcd",
       "--listen-client-urls=http://" + etcd_address,
       "--advertise-client-urls=http://" + etcd_address,
       "--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
       "--initial-cluster=bench=" + peer},
      dir + "/etcd.log");
  collector::fleet::EtcdClient client(etcd_address, absl::Seconds(1));
  if (!testing::WaitFor([&] { return client.List("/").ok(); },
                        absl::Seconds(20))) {
    absl::FPrintF(stderr, "etcd did not start: %s\n",
                  testing::ReadFile(dir + "/etcd.log"));
    return 1;
  }
  // No objectives while ingest is measured; MeasureEvaluation loads them.
  const std::string plan_path = dir + "/plan.yaml";
  std::ofstream(plan_path) << "coverage: {enabled: false}\nobjectives: []\n";
  std::vector<FleetCollector> collectors(n);
  std::vector<std::string> members;
  for (int i = 0; i < n; ++i) {
    FleetCollector& c = collectors[i];
    c.address = absl::StrCat("127.0.0.1:", testing::FreePort());
    const std::string name = absl::StrCat("c", i);
    c.process = std::make_unique<testing::Subprocess>(
        std::vector<std::string>{
            absl::GetFlag(FLAGS_collector_bin), "--grpc_listen=" + c.address,
            "--http_listen=127.0.0.1:0", "--collector_id=" + name,
            "--data_dir=" + dir + "/" + name,
            "--ports_file=" + dir + "/" + name + ".ports",
            "--fleet_etcd=" + etcd_address, "--fleet_advertise=" + c.address,
            "--fleet_lease_ttl=" + absl::GetFlag(FLAGS_lease_ttl),
            "--plan=" + plan_path},
        dir + "/" + name + ".log");
    c.http_port = testing::WaitForPort(dir + "/" + name + ".ports", "http");
    if (c.http_port == 0) {
      absl::FPrintF(stderr, "collector %s did not start: %s\n", name,
                    testing::ReadFile(dir + "/" + name + ".log"));
      return 1;
    }
    members.push_back(c.address);
  }
  for (const FleetCollector& c : collectors) {
    if (!testing::WaitFor([&] { return Metric(c, "aims_fleet_members") == n; },
                          absl::Seconds(20))) {
      absl::FPrintF(stderr, "collector %s does not see %d members\n", c.address,
                    n);
      return 1;
    }
  }

  const int agents = absl::GetFlag(FLAGS_agents);
  size_t summary_bytes = 0;
  const std::vector<v1::WindowSummary> pool = SummaryPool(16, &summary_bytes);
  std::vector<std::string> encoded_pool;
  for (const v1::WindowSummary& s : pool)
    encoded_pool.push_back(s.SerializeAsString());
  auto owner_of = [&](int agent) {
    return collector::fleet::RendezvousOwner(Model(agent / 10).name(), members);
  };
  std::vector<double> cpu_before(n);
  for (int i = 0; i < n; ++i)
    cpu_before[i] = ProcessCpuSecondsOf(collectors[i].process->pid());
  // The measured span is DriveAgents' own: the collectors' CPU is read
  // over the whole run (warm-up included) and scaled by reports.
  const absl::Time run_start = absl::Now();
  // Windows from an hour ago on (about 20 minutes of them at these rates),
  // so the plan's 1 h window has data that maintenance can roll up.
  const LoadResult load =
      DriveAgents(agents, absl::GetFlag(FLAGS_in_flight), owner_of,
                  encoded_pool, absl::Now() - absl::Hours(1));
  const double run_seconds = absl::ToDoubleSeconds(absl::Now() - run_start);
  double collectors_cpu = 0;
  for (int i = 0; i < n; ++i) {
    collectors_cpu +=
        ProcessCpuSecondsOf(collectors[i].process->pid()) - cpu_before[i];
  }
  // Every acknowledged report is stored once (the fleet-wide listing takes
  // each agent from its model's owner).
  if (!StoredOnce(collectors[0].address, load.acked_total)) return 1;
  const double rate = load.reports / load.seconds;
  std::vector<std::pair<std::string, double>> fields = {
      {"collectors", n},
      {"agents", agents},
      {"models", (agents + 9) / 10},
      {"reports", static_cast<double>(load.reports)},
      {"reports_per_second", rate},
      {"seconds", load.seconds},
      {"collectors_cpu_cores", collectors_cpu / run_seconds},
      {"client_threads_cpu_cores", load.client_cpu / load.seconds},
      {"reports_per_collector_cpu_second",
       static_cast<double>(load.acked_total) / collectors_cpu}};
  absl::FPrintF(stderr,
                "ingest: %.0f reports/s, %.0f per collector CPU-second; "
                "waiting for the rollups, then evaluating\n",
                rate, load.acked_total / collectors_cpu);
  if (!MeasureEvaluation(collectors, plan_path, (agents + 9) / 10,
                         absl::GetFlag(FLAGS_seconds), &fields)) {
    return 1;
  }
  if (n >= 2) {
    fields.push_back(
        {"replicated_reports",
         Sum(collectors, -1, "aims_fleet_replicated_reports_total")});
    // SIGKILL the collector owning the most models.
    std::map<std::string, int> owned;
    for (int m = 0; m < (agents + 9) / 10; ++m)
      ++owned[collector::fleet::RendezvousOwner(Model(m).name(), members)];
    int victim = 0;
    for (int i = 0; i < n; ++i) {
      if (owned[members[i]] > owned[members[victim]]) victim = i;
    }
    const int moving = owned[members[victim]];
    const absl::Time killed = absl::Now();
    collectors[victim].process->Signal(SIGKILL);
    auto taken_over = [&] {
      return Sum(collectors, victim, "aims_fleet_takeovers_total");
    };
    if (!PollFor([&] { return taken_over() >= moving; }, absl::Minutes(2))) {
      absl::FPrintF(stderr, "%g of %d models taken over after 2 minutes\n",
                    taken_over(), moving);
      return 1;
    }
    fields.push_back({"models_moved", moving});
    fields.push_back(
        {"takeover_seconds", absl::ToDoubleSeconds(absl::Now() - killed)});
    absl::Duration ttl;
    if (absl::ParseDuration(absl::GetFlag(FLAGS_lease_ttl), &ttl))
      fields.push_back({"lease_ttl_seconds", absl::ToDoubleSeconds(ttl)});
  }
  std::string name = absl::GetFlag(FLAGS_name);
  if (name.empty()) name = absl::StrCat("collector_fleet_", n);
  PrintJson(name, fields);
  return 0;
}

}  // namespace aims::bench
