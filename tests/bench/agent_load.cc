// Load generator for the agent benchmarks (docs/performance.md): starts a
// real aims-collector and aims-agent (binaries given by flag), then sends
// batches of inference events to the agent's HTTP/JSON intake
// (POST /v1/events) or gRPC intake (AgentIntakeService.SubmitEvents) on
// loopback, and reads the agent's CPU time and memory from /proc.
//
//   agent_load --mode=throughput --intake=http|grpc [--batch=500]
//       `--connections` client threads each send batches back to back on
//       their own connection for `--seconds` (after `--warmup`); reports
//       events accepted per second, and the CPU the agent and this client
//       used (both share the machine's cores).
//   agent_load --mode=rate --rate=N [--batch=100]
//       Sends N events/s on a fixed schedule; reports the agent's CPU as a
//       share of one core and its RSS (at the end, and the peak VmHWM).
//
// Events: --numeric numeric and --categorical categorical features, 2
// sensitive attributes, a score, the predicted class, a label and a latency.
// Request bodies are encoded before the run (a pool of 16 distinct batches),
// so the client spends its CPU on sending, not on encoding.
//
// At the end the agent's own counter (aims_agent_events_total accepted) is
// checked against the client's count. Prints one JSON object per line.
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <random>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "aims/v1/event.pb.h"
#include "common/base/cli.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "httplib.h"
#include "tests/testing/test_util.h"

ABSL_FLAG(std::string, agent_bin, "", "path of aims-agent");
ABSL_FLAG(std::string, collector_bin, "", "path of aims-collector");
ABSL_FLAG(std::string, mode, "throughput", "throughput or rate");
ABSL_FLAG(std::string, intake, "http", "http or grpc");
ABSL_FLAG(int, batch, 500, "events per request");
ABSL_FLAG(int, numeric, 20, "numeric features per event");
ABSL_FLAG(int, categorical, 5, "categorical features per event");
ABSL_FLAG(int, connections, 4,
          "client threads, each with its own connection (rate mode: they "
          "share the schedule)");
ABSL_FLAG(double, seconds, 10, "measured duration");
ABSL_FLAG(double, warmup, 2, "seconds of load before measuring");
ABSL_FLAG(int, rate, 1000, "rate: events per second");
ABSL_FLAG(std::vector<std::string>, agent_flags, {},
          "extra flags for aims-agent, comma-separated");
ABSL_FLAG(std::string, name, "",
          "benchmark name in the output (default: "
          "agent_<intake>_<mode>)");

namespace aims {
namespace {

using testing::Subprocess;
using testing::TempDir;

struct ProcStat {
  double cpu_seconds = 0;         // utime + stime
  double system_cpu_seconds = 0;  // stime
  uint64_t rss = 0, hwm = 0;
};

ProcStat ReadProc(pid_t pid) {
  ProcStat s;
  const std::string stat =
      testing::ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  const size_t paren = stat.rfind(')');
  if (paren != std::string::npos) {
    std::vector<std::string> f =
        absl::StrSplit(stat.substr(paren + 2), ' ', absl::SkipEmpty());
    // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after ')'.
    if (f.size() > 12) {
      const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
      s.system_cpu_seconds = std::stod(f[12]) / tick;
      s.cpu_seconds = std::stod(f[11]) / tick + s.system_cpu_seconds;
    }
  }
  const std::string status =
      testing::ReadFile(absl::StrCat("/proc/", pid, "/status"));
  for (auto [key, out] : {std::pair{"VmRSS:", &s.rss}, {"VmHWM:", &s.hwm}}) {
    const size_t at = status.find(key);
    if (at != std::string::npos)
      *out = std::strtoull(status.c_str() + at + 6, nullptr, 10) * 1024;
  }
  return s;
}

double SelfCpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec +
         u.ru_stime.tv_usec * 1e-6;
}

// A pool of batches, as JSON bodies and as serialized SubmitEventsRequests.
struct Pool {
  std::vector<std::string> json;
  std::vector<std::string> proto;
};

Pool MakePool(int batches, int batch, int numeric, int categorical) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> u(0, 1);
  const char* genders[] = {"female", "male", "other"};
  const char* bands[] = {"18-29", "30-44", "45-64", "65+"};
  Pool pool;
  for (int b = 0; b < batches; ++b) {
    std::string json = "[";
    v1::SubmitEventsRequest request;
    for (int i = 0; i < batch; ++i) {
      v1::InferenceEvent* e = request.add_events();
      std::string features;
      for (int f = 0; f < numeric; ++f) {
        const double v = std::round(normal(rng) * 1e4) / 1e4 + f;
        absl::StrAppend(&features, f ? "," : "", "\"num_", f, "\":", v);
        (*e->mutable_features())[absl::StrCat("num_", f)].set_number(v);
      }
      for (int f = 0; f < categorical; ++f) {
        const std::string v = absl::StrCat("v", static_cast<int>(u(rng) * 12));
        absl::StrAppend(&features, numeric + f ? "," : "", "\"cat_", f, "\":\"",
                        v, "\"");
        (*e->mutable_features())[absl::StrCat("cat_", f)].set_category(v);
      }
      const double score = std::round(u(rng) * 1e4) / 1e4;
      const int predicted = score >= 0.5;
      const int label = u(rng) < score;
      const double latency_ms = std::round((5 + 20 * u(rng)) * 100) / 100;
      const char* gender = genders[static_cast<int>(u(rng) * 2.04) % 3];
      const char* band = bands[static_cast<int>(u(rng) * 4)];
      absl::StrAppend(&json, i ? "," : "", "{\"features\":{", features,
                      "},\"prediction\":", predicted, ",\"score\":", score,
                      ",\"label\":", label, ",\"attributes\":{\"gender\":\"",
                      gender, "\",\"age_band\":\"", band,
                      "\"},\"latency_ms\":", latency_ms, "}");
      e->mutable_prediction()->set_number(predicted);
      e->set_score(score);
      e->mutable_label()->set_number(label);
      (*e->mutable_attributes())["gender"] = gender;
      (*e->mutable_attributes())["age_band"] = band;
      e->set_latency_seconds(latency_ms / 1000);
    }
    json += "]";
    pool.json.push_back(std::move(json));
    pool.proto.push_back(request.SerializeAsString());
  }
  return pool;
}

// One client connection; Send() returns the events the agent accepted, 0
// when it refused the batch (429 / RESOURCE_EXHAUSTED), -1 on failure.
class Client {
 public:
  virtual ~Client() = default;
  virtual int64_t Send(int index) = 0;
};

class HttpClient : public Client {
 public:
  HttpClient(int port, const Pool* pool)
      : http_("127.0.0.1", port), pool_(pool) {
    http_.set_keep_alive(true);
    http_.set_tcp_nodelay(true);
    http_.set_read_timeout(30, 0);
    http_.set_write_timeout(30, 0);
  }
  int64_t Send(int index) override {
    const std::string& body = pool_->json[index % pool_->json.size()];
    httplib::Result res = http_.Post("/v1/events", body, "application/json");
    if (!res) return -1;
    if (res->status == 429) return 0;
    if (res->status != 200) {
      absl::FPrintF(stderr, "HTTP %d: %s\n", res->status, res->body);
      return -1;
    }
    const size_t at = res->body.find("\"accepted\":");
    return at == std::string::npos
               ? -1
               : std::strtoll(res->body.c_str() + at + 11, nullptr, 10);
  }

 private:
  httplib::Client http_;
  const Pool* pool_;
};

class GrpcClient : public Client {
 public:
  GrpcClient(int port, int id, const Pool* pool) : pool_(pool) {
    grpc::ChannelArguments args;
    args.SetInt("aims_bench_connection", id);  // a connection of its own
    args.SetMaxReceiveMessageSize(64 << 20);
    channel_ =
        grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                  grpc::InsecureChannelCredentials(), args);
    stub_ = std::make_unique<grpc::GenericStub>(channel_);
  }
  int64_t Send(int index) override {
    const std::string& bytes = pool_->proto[index % pool_->proto.size()];
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    grpc::ClientContext ctx;
    grpc::Status status;
    absl::Notification done;
    stub_->UnaryCall(&ctx, "/aims.v1.AgentIntakeService/SubmitEvents",
                     grpc::StubOptions(), &request, &response,
                     [&](grpc::Status s) {
                       status = std::move(s);
                       done.Notify();
                     });
    done.WaitForNotification();
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) return 0;
    if (!status.ok()) {
      absl::FPrintF(stderr, "gRPC: %s\n", status.error_message());
      return -1;
    }
    std::vector<grpc::Slice> slices;
    (void)response.Dump(&slices);
    std::string bytes_out;
    for (const grpc::Slice& s : slices)
      bytes_out.append(reinterpret_cast<const char*>(s.begin()), s.size());
    v1::SubmitResponse parsed;
    if (!parsed.ParseFromString(bytes_out)) return -1;
    return parsed.accepted();
  }

 private:
  const Pool* pool_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::GenericStub> stub_;
};

void PrintJson(const std::string& name,
               const std::vector<std::pair<std::string, double>>& values) {
  std::string line = absl::StrCat("{\"benchmark\":\"", name, "\"");
  for (const auto& [k, v] : values) {
    absl::StrAppend(&line, ",\"", k, "\":", absl::StrFormat("%.6g", v));
  }
  absl::PrintF("%s}\n", line);
  fflush(stdout);
}

int Main() {
  const std::string agent_bin = absl::GetFlag(FLAGS_agent_bin);
  const std::string collector_bin = absl::GetFlag(FLAGS_collector_bin);
  if (agent_bin.empty() || collector_bin.empty()) {
    absl::FPrintF(stderr, "--agent_bin and --collector_bin are required\n");
    return 2;
  }
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const std::string intake = absl::GetFlag(FLAGS_intake);
  if ((mode != "throughput" && mode != "rate") ||
      (intake != "http" && intake != "grpc")) {
    absl::FPrintF(stderr,
                  "--mode: throughput or rate; --intake: http or grpc\n");
    return 2;
  }
  const int batch = absl::GetFlag(FLAGS_batch);
  const Pool pool = MakePool(16, batch, absl::GetFlag(FLAGS_numeric),
                             absl::GetFlag(FLAGS_categorical));

  TempDir dir;
  Subprocess collector(
      {collector_bin, "--grpc_listen=127.0.0.1:0", "--http_listen=127.0.0.1:0",
       "--data_dir=" + dir.File("collector"),
       "--ports_file=" + dir.File("collector.ports"), "--log_level=warn"},
      dir.File("collector.log"));
  const int collector_port =
      testing::WaitForPort(dir.File("collector.ports"), "grpc");
  if (collector_port == 0) {
    absl::FPrintF(stderr, "collector did not start: %s\n",
                  testing::ReadFile(dir.File("collector.log")));
    return 1;
  }
  std::vector<std::string> agent_argv = {
      agent_bin,
      "--model_name=bench",
      "--model_version=v1",
      absl::StrCat("--collector=127.0.0.1:", collector_port),
      "--http_listen=127.0.0.1:0",
      "--grpc_listen=127.0.0.1:0",
      "--data_dir=" + dir.File("agent"),
      "--ports_file=" + dir.File("agent.ports"),
      "--log_level=warn"};
  for (const std::string& f : absl::GetFlag(FLAGS_agent_flags))
    agent_argv.push_back(f);
  Subprocess agent(agent_argv, dir.File("agent.log"));
  const int http_port = testing::WaitForPort(dir.File("agent.ports"), "http");
  const int grpc_port = testing::WaitForPort(dir.File("agent.ports"), "grpc");
  if (http_port == 0 || grpc_port == 0) {
    absl::FPrintF(stderr, "agent did not start: %s\n",
                  testing::ReadFile(dir.File("agent.log")));
    return 1;
  }
  auto make_client = [&](int id) -> std::unique_ptr<Client> {
    if (intake == "http") return std::make_unique<HttpClient>(http_port, &pool);
    return std::make_unique<GrpcClient>(grpc_port, id, &pool);
  };

  std::atomic<bool> stop{false};
  std::atomic<int64_t> accepted{0}, refused{0}, failed{0};
  std::vector<std::thread> threads;
  const int connections = absl::GetFlag(FLAGS_connections);
  const double rate = absl::GetFlag(FLAGS_rate);
  for (int t = 0; t < connections; ++t) {
    threads.emplace_back([&, t] {
      std::unique_ptr<Client> client = make_client(t);
      const absl::Time start = absl::Now();
      for (int64_t i = t; !stop.load(); i += connections) {
        if (mode == "rate") {
          // Batch i is due at i * batch / rate seconds from the start.
          const absl::Time due =
              start + absl::Seconds(static_cast<double>(i) * batch / rate);
          const absl::Duration wait = due - absl::Now();
          if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
        }
        const int64_t n = client->Send(static_cast<int>(i));
        if (n < 0) {
          failed.fetch_add(1);
          absl::SleepFor(absl::Milliseconds(10));
        } else if (n == 0) {
          refused.fetch_add(1);
        } else {
          accepted.fetch_add(n);
        }
      }
    });
  }
  absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_warmup)));
  const int64_t accepted0 = accepted.load();
  const ProcStat agent0 = ReadProc(agent.pid());
  const double client0 = SelfCpuSeconds();
  const absl::Time t0 = absl::Now();
  absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_seconds)));
  const int64_t accepted1 = accepted.load();
  const ProcStat agent1 = ReadProc(agent.pid());
  const double client1 = SelfCpuSeconds();
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - t0);
  stop.store(true);
  for (auto& t : threads) t.join();

  // The agent's own count of accepted events must equal the client's.
  httplib::Client metrics("127.0.0.1", http_port);
  httplib::Result page = metrics.Get("/metrics");
  const double agent_counted =
      page ? testing::MetricValue(
                 page->body, "aims_agent_events_total{outcome=\"accepted\"}")
           : -1;
  agent.Signal(SIGTERM);
  collector.Signal(SIGTERM);

  const double events_per_second = (accepted1 - accepted0) / elapsed;
  const double agent_cores =
      (agent1.cpu_seconds - agent0.cpu_seconds) / elapsed;
  std::string name = absl::GetFlag(FLAGS_name);
  if (name.empty()) name = absl::StrCat("agent_", intake, "_", mode);
  std::vector<std::pair<std::string, double>> out = {
      {"batch", batch},
      {"features",
       absl::GetFlag(FLAGS_numeric) + absl::GetFlag(FLAGS_categorical)},
      {"seconds", elapsed},
      {"events_per_second", events_per_second},
      {"agent_cpu_cores", agent_cores},
      // The kernel's part of it (stime): sockets, the intake log's writes.
      {"agent_system_cpu_share",
       agent1.cpu_seconds > agent0.cpu_seconds
           ? (agent1.system_cpu_seconds - agent0.system_cpu_seconds) /
                 (agent1.cpu_seconds - agent0.cpu_seconds)
           : 0},
      {"client_cpu_cores", (client1 - client0) / elapsed},
      {"agent_events_per_cpu_second",
       agent_cores > 0 ? events_per_second / agent_cores : 0},
      {"agent_rss_mib", agent1.rss / 1048576.0},
      {"agent_peak_rss_mib", agent1.hwm / 1048576.0},
      {"batches_refused", static_cast<double>(refused.load())},
      {"batches_failed", static_cast<double>(failed.load())},
      {"events_accepted_total", static_cast<double>(accepted.load())},
      {"agent_counted_total", agent_counted},
      {"request_bytes",
       static_cast<double>(intake == "http" ? pool.json[0].size()
                                            : pool.proto[0].size())}};
  out.insert(out.begin(), {"connections", connections});
  if (mode == "rate") out.insert(out.begin(), {"target_rate", rate});
  PrintJson(name, out);
  if (agent_counted != static_cast<double>(accepted.load())) {
    absl::FPrintF(stderr, "agent counted %.0f accepted events, the client %d\n",
                  agent_counted, accepted.load());
    return 1;
  }
  return failed.load() > 0 ? 1 : 0;
}

}  // namespace
}  // namespace aims

int main(int argc, char** argv) {
  aims::ParseCommandLine(
      argc, argv,
      "load generator for the agent benchmarks "
      "(docs/performance.md).\n\nUsage: agent_load --agent_bin=PATH "
      "--collector_bin=PATH --mode=throughput|rate [--flag=value ...]");
  return aims::Main();
}
