// collector_bench --mode=fleet (see collector_bench.cc).
#include <signal.h>
#include <unistd.h>

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
            "--fleet_lease_ttl=" + absl::GetFlag(FLAGS_lease_ttl)},
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
  const LoadResult load = DriveAgents(agents, absl::GetFlag(FLAGS_in_flight),
                                      owner_of, encoded_pool, absl::Now());
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
  if (n >= 2) {
    double replicated = 0;
    for (const FleetCollector& c : collectors) {
      replicated +=
          std::max(0.0, Metric(c, "aims_fleet_replicated_reports_total"));
    }
    fields.push_back({"replicated_reports", replicated});
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
      double sum = 0;
      for (int i = 0; i < n; ++i) {
        if (i != victim)
          sum += std::max(0.0,
                          Metric(collectors[i], "aims_fleet_takeovers_total"));
      }
      return sum;
    };
    if (!testing::WaitFor([&] { return taken_over() >= moving; },
                          absl::Minutes(2))) {
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
