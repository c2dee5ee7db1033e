// The Prometheus side of the collector ingest comparison
// (docs/performance.md): starts the real Prometheus (Debian's binary) with
// --web.enable-remote-write-receiver on a free loopback port and a
// temporary storage directory, sends it `--samples` float samples through
// remote write, and measures samples/s from the first request to the last
// answer (204: appended to the head block and its WAL).
//
//   remote_write_bench --samples=N [--series=100000]
//       [--samples_per_request=2000] [--connections=4]
//
// Layout: `--series` series {__name__="aims_bench_equiv", agent, index};
// round r gives every series one sample at t0 + r * step (all within the
// head's last hour, in order per series), and each connection owns a slice
// of the series, so no sample is out of order. Requests hold
// `--samples_per_request` series with one sample each, as Prometheus' own
// remote-write queue sends them. Requests are encoded by hand into the
// prometheus.WriteRequest wire format (remote_write.proto; the first one is
// checked by parsing it with the generated class) and snappy-compressed.
//
// At the end, Prometheus' own counters (prometheus_tsdb_head_samples_
// appended_total, prometheus_tsdb_head_series) are checked against what was
// sent. Prints one JSON object per line.
#include <snappy.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <fstream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/base/cli.h"
#include "httplib.h"
#include "remote_write.pb.h"
#include "tests/testing/test_util.h"

ABSL_FLAG(std::string, prometheus_bin, "/usr/bin/prometheus",
          "Prometheus server binary");
ABSL_FLAG(int64_t, samples, 10'000'000, "samples to send");
ABSL_FLAG(int, series, 100'000, "distinct series");
ABSL_FLAG(int, samples_per_request, 2000, "samples per remote-write request");
ABSL_FLAG(int, connections, 4, "client threads, each with a connection");
ABSL_FLAG(std::string, name, "prometheus_remote_write", "benchmark name");

namespace aims {
namespace {

void Varint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Field `field` with wire type 2 (length-delimited).
void Bytes(int field, absl::string_view bytes, std::string* out) {
  out->push_back(static_cast<char>(field << 3 | 2));
  Varint(bytes.size(), out);
  out->append(bytes.data(), bytes.size());
}

// The encoded labels of series `i` (sorted by name).
std::string SeriesLabels(int i) {
  std::string out;
  for (auto [name, value] :
       {std::pair<std::string, std::string>{"__name__", "aims_bench_equiv"},
        {"agent", absl::StrCat("agent-", i / 1000)},
        {"index", absl::StrCat(i % 1000)}}) {
    std::string label;
    Bytes(1, name, &label);
    Bytes(2, value, &label);
    Bytes(1, label, &out);
  }
  return out;
}

// One TimeSeries with one sample, appended to a WriteRequest.
void AppendSeries(const std::string& labels, double value, int64_t ts_ms,
                  std::string* out) {
  std::string sample;
  sample.push_back(0x09);  // field 1, 64-bit
  char raw[8];
  std::memcpy(raw, &value, 8);
  sample.append(raw, 8);
  sample.push_back(0x10);  // field 2, varint
  Varint(static_cast<uint64_t>(ts_ms), &sample);
  std::string series = labels;
  Bytes(2, sample, &series);
  Bytes(1, series, out);
}

double MetricSum(const std::string& page, const std::string& name) {
  double sum = 0;
  bool found = false;
  for (absl::string_view line : absl::StrSplit(page, '\n')) {
    if (!absl::StartsWith(line, name)) continue;
    const char next = line.size() > name.size() ? line[name.size()] : 0;
    if (next != ' ' && next != '{') continue;
    const size_t space = line.rfind(' ');
    sum += std::atof(std::string(line.substr(space + 1)).c_str());
    found = true;
  }
  return found ? sum : -1;
}

double CpuSeconds(pid_t pid) {
  const std::string stat =
      testing::ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  const size_t paren = stat.rfind(')');
  std::vector<std::string> f =
      absl::StrSplit(stat.substr(paren + 2), ' ', absl::SkipEmpty());
  return (std::stod(f[11]) + std::stod(f[12])) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

double SelfCpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec +
         u.ru_stime.tv_usec * 1e-6;
}

int Main() {
  const int64_t total = absl::GetFlag(FLAGS_samples);
  const int series = absl::GetFlag(FLAGS_series);
  const int per_request = absl::GetFlag(FLAGS_samples_per_request);
  const int connections = absl::GetFlag(FLAGS_connections);
  if (total <= 0 || series <= 0 || per_request <= 0 || connections <= 0) {
    absl::FPrintF(stderr, "flags must be positive\n");
    return 2;
  }
  const int64_t rounds = (total + series - 1) / series;
  // All samples within the head's appendable last hour, in order.
  const int64_t step_ms =
      std::max<int64_t>(1, std::min<int64_t>(10'000, 3'000'000 / rounds));
  const int64_t t0 = absl::ToUnixMillis(absl::Now()) - rounds * step_ms - 1000;

  testing::TempDir dir;
  {
    std::ofstream config(dir.File("prometheus.yml"));
    config << "global:\n  scrape_interval: 1h\nscrape_configs: []\n";
  }
  const int port = testing::FreePort();
  testing::Subprocess prometheus(
      {absl::GetFlag(FLAGS_prometheus_bin),
       "--config.file=" + dir.File("prometheus.yml"),
       "--storage.tsdb.path=" + dir.File("data"),
       absl::StrCat("--web.listen-address=127.0.0.1:", port),
       "--web.enable-remote-write-receiver", "--log.level=warn"},
      dir.File("prometheus.log"));
  httplib::Client probe("127.0.0.1", port);
  if (!testing::WaitFor(
          [&] {
            auto r = probe.Get("/-/ready");
            return r && r->status == 200;
          },
          absl::Seconds(30))) {
    absl::FPrintF(stderr, "prometheus not ready: %s\n",
                  testing::ReadFile(dir.File("prometheus.log")));
    return 1;
  }

  std::vector<std::string> labels(series);
  for (int i = 0; i < series; ++i) labels[i] = SeriesLabels(i);
  {
    // The hand encoding is what the generated class parses.
    std::string request;
    AppendSeries(labels[1234 % series], 0.25, t0, &request);
    prometheus::WriteRequest parsed;
    if (!parsed.ParseFromString(request) || parsed.timeseries_size() != 1 ||
        parsed.timeseries(0).labels_size() != 3 ||
        parsed.timeseries(0).labels(0).name() != "__name__" ||
        parsed.timeseries(0).samples(0).value() != 0.25 ||
        parsed.timeseries(0).samples(0).timestamp() != t0) {
      absl::FPrintF(stderr, "remote-write encoding does not parse back\n");
      return 1;
    }
  }

  std::atomic<int64_t> sent{0}, failed{0}, requests{0}, wire_bytes{0};
  const double prom_cpu0 = CpuSeconds(prometheus.pid());
  const double client_cpu0 = SelfCpuSeconds();
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      httplib::Client http("127.0.0.1", port);
      http.set_keep_alive(true);
      // Headers and body go in separate writes: without TCP_NODELAY the body
      // would wait for the server's delayed ACK of the headers.
      http.set_tcp_nodelay(true);
      http.set_read_timeout(60, 0);
      httplib::Headers headers = {
          {"Content-Encoding", "snappy"},
          {"X-Prometheus-Remote-Write-Version", "0.1.0"}};
      const int first = static_cast<int>(int64_t{series} * c / connections);
      const int last =
          static_cast<int>(int64_t{series} * (c + 1) / connections);
      std::string request, compressed;
      for (int64_t r = 0; r < rounds; ++r) {
        const int64_t ts = t0 + r * step_ms;
        // Samples of round r: series [0, in_round) (the last round may be
        // partial).
        const int64_t in_round = std::min<int64_t>(series, total - r * series);
        const int end = static_cast<int>(std::min<int64_t>(last, in_round));
        for (int s = first; s < end; s += per_request) {
          request.clear();
          const int stop = std::min(end, s + per_request);
          for (int i = s; i < stop; ++i) {
            AppendSeries(labels[i], static_cast<double>((i + r) % 97), ts,
                         &request);
          }
          compressed.clear();
          snappy::Compress(request.data(), request.size(), &compressed);
          httplib::Result res = http.Post("/api/v1/write", headers, compressed,
                                          "application/x-protobuf");
          if (!res || (res->status != 204 && res->status != 200)) {
            failed.fetch_add(stop - s);
            if (res && failed.load() < 5 * per_request)
              absl::FPrintF(stderr, "HTTP %d: %s\n", res->status, res->body);
            continue;
          }
          sent.fetch_add(stop - s);
          requests.fetch_add(1);
          wire_bytes.fetch_add(compressed.size());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  const double prom_cpu = CpuSeconds(prometheus.pid()) - prom_cpu0;
  const double client_cpu = SelfCpuSeconds() - client_cpu0;
  const uint64_t rss = testing::ResidentBytes(prometheus.pid());
  httplib::Result page = probe.Get("/metrics");
  const std::string body = page ? page->body : "";
  const double appended =
      MetricSum(body, "prometheus_tsdb_head_samples_appended_total");
  const double head_series = MetricSum(body, "prometheus_tsdb_head_series");
  prometheus.Signal(SIGTERM);

  std::string line =
      absl::StrCat("{\"benchmark\":\"", absl::GetFlag(FLAGS_name), "\"");
  for (auto [k, v] : std::vector<std::pair<std::string, double>>{
           {"samples", static_cast<double>(sent.load())},
           {"series", static_cast<double>(series)},
           {"samples_per_request", static_cast<double>(per_request)},
           {"connections", static_cast<double>(connections)},
           {"seconds", elapsed},
           {"samples_per_second", sent.load() / elapsed},
           {"requests", static_cast<double>(requests.load())},
           {"wire_mb_per_second", wire_bytes.load() / elapsed / 1e6},
           {"prometheus_cpu_cores", prom_cpu / elapsed},
           {"client_cpu_cores", client_cpu / elapsed},
           {"prometheus_rss_mib", rss / 1048576.0},
           {"head_samples_appended", appended},
           {"head_series", head_series},
           {"samples_failed", static_cast<double>(failed.load())}}) {
    absl::StrAppend(&line, ",\"", k, "\":", absl::StrFormat("%.6g", v));
  }
  absl::PrintF("%s}\n", line);
  if (failed.load() > 0 || appended != static_cast<double>(sent.load())) {
    absl::FPrintF(stderr,
                  "sent %d samples, %d failed, Prometheus appended %f\n",
                  sent.load(), failed.load(), appended);
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace aims

int main(int argc, char** argv) {
  aims::ParseCommandLine(
      argc, argv,
      "Prometheus remote-write ingest, the other side of "
      "the collector ingest comparison (docs/performance.md).\n\nUsage: "
      "remote_write_bench --samples=N [--series=100000] [--flag=value ...]");
  return aims::Main();
}
