#include "tests/bench/collector_bench.h"

ABSL_FLAG(std::string, mode, "ingest",
          "ingest, query, evaluate, alert or fleet");
ABSL_FLAG(int, agents, 1000, "ingest: simulated agents");
ABSL_FLAG(int, in_flight, 4, "ingest: unacknowledged reports per agent");
ABSL_FLAG(int, seconds, 20, "ingest: measured duration");
ABSL_FLAG(int64_t, reports, 0,
          "ingest: measure until this many reports are acknowledged instead "
          "of --seconds (0: use --seconds)");
ABSL_FLAG(std::string, name, "", "ingest: benchmark name in the output");
ABSL_FLAG(int, models, 100, "evaluate: models");
ABSL_FLAG(int, objectives, 10000, "evaluate: objectives");
ABSL_FLAG(int, trials, 5, "alert: breaches measured");
ABSL_FLAG(std::string, alertmanager_bin, "/usr/bin/prometheus-alertmanager",
          "alert: Alertmanager binary");
ABSL_FLAG(int, replicas, 10, "query: agents of the model");
ABSL_FLAG(int, queries, 200, "query: queries per range");
ABSL_FLAG(int, query_threads, 2,
          "query: the collector's --query_threads (threads per query)");
ABSL_FLAG(std::string, dir, "", "data directory (default: a temporary one)");
ABSL_FLAG(int, collectors, 3, "fleet: collector processes (1 to 5)");
ABSL_FLAG(std::string, etcd_bin, "/usr/bin/etcd", "fleet: the etcd server");
ABSL_FLAG(std::string, collector_bin, "aims-collector",
          "fleet: the aims-collector binary");
ABSL_FLAG(std::string, lease_ttl, "10s",
          "fleet: --fleet_lease_ttl of the collectors");

namespace aims::bench {

v1::ModelRef Model(int i) {
  v1::ModelRef m;
  m.set_name(absl::StrCat("bench-", i));
  m.set_version("v1");
  m.set_environment("prod");
  return m;
}

// 100 numeric features on an 18-quantile profile (20 bins with under- and
// overflow), binary scores and labels, one sensitive attribute; every
// numeric feature with a quantile sketch (--feature_sketches=all: the
// largest reports an agent sends for this shape, as the targets were set).
std::vector<v1::WindowSummary> SummaryPool(int n, size_t* bytes) {
  std::mt19937 rng(3);
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> u(0, 1);
  auto event = [&] {
    Event e;
    for (int f = 0; f < 100; ++f) {
      e.features.emplace_back(
          absl::StrCat("feature_", f),
          FeatureValue{FeatureValue::Kind::kNumber, normal(rng), ""});
    }
    e.score = u(rng);
    e.prediction.kind = Outcome::Kind::kNumber;
    e.prediction.number = *e.score >= 0.5;
    e.label.kind = Outcome::Kind::kNumber;
    e.label.number = u(rng) < *e.score;
    e.attributes.emplace_back("gender", u(rng) < 0.5 ? "f" : "m");
    e.latency_seconds = 0.01 + u(rng) / 50;
    return e;
  };
  ProfileBuildOptions options;
  options.numeric_bins = 18;
  ProfileBuilder builder(options);
  for (int i = 0; i < 2000; ++i) builder.Add(event());
  auto profile = builder.Build(Model(), v1::PROFILE_SOURCE_TRAINING_DATA, "b");
  auto config = std::make_shared<SummaryConfig>();
  config->profile = std::make_shared<v1::ReferenceProfile>(*profile);
  config->feature_sketches = SummaryConfig::FeatureSketches::kAll;
  std::vector<v1::WindowSummary> pool;
  for (int s = 0; s < n; ++s) {
    WindowAccumulator acc(config);
    for (int i = 0; i < 200; ++i) acc.Add(event());
    pool.push_back(acc.Build());
  }
  *bytes = pool[0].ByteSizeLong();
  return pool;
}

void PrintJson(const std::string& name,
               const std::vector<std::pair<std::string, double>>& values) {
  std::string line = absl::StrCat("{\"benchmark\":\"", name, "\"");
  for (const auto& [k, v] : values) {
    absl::StrAppend(&line, ",\"", k, "\":", absl::StrFormat("%.6g", v));
  }
  absl::PrintF("%s}\n", line);
  fflush(stdout);
}

// Samples-equivalent of a message: every number it carries - each integer
// or floating-point field of every message present (zeros included, as a
// Prometheus series would carry a zero sample) and each element of repeated
// numeric fields (histogram bins, sketch bucket counters, confusion
// counts). Strings, bools and enums are not counted.
uint64_t CountNumbers(const google::protobuf::Message& m) {
  using FD = google::protobuf::FieldDescriptor;
  const google::protobuf::Descriptor* d = m.GetDescriptor();
  const google::protobuf::Reflection* r = m.GetReflection();
  uint64_t n = 0;
  for (int i = 0; i < d->field_count(); ++i) {
    const FD* f = d->field(i);
    switch (f->cpp_type()) {
      case FD::CPPTYPE_MESSAGE:
        if (f->is_repeated()) {
          for (int j = 0; j < r->FieldSize(m, f); ++j)
            n += CountNumbers(r->GetRepeatedMessage(m, f, j));
        } else if (r->HasField(m, f)) {
          n += CountNumbers(r->GetMessage(m, f));
        }
        break;
      case FD::CPPTYPE_INT32:
      case FD::CPPTYPE_INT64:
      case FD::CPPTYPE_UINT32:
      case FD::CPPTYPE_UINT64:
      case FD::CPPTYPE_DOUBLE:
      case FD::CPPTYPE_FLOAT:
        if (f->is_repeated()) {
          n += r->FieldSize(m, f);
        } else if (f->containing_oneof() == nullptr || r->HasField(m, f)) {
          ++n;
        }
        break;
      default:
        break;
    }
  }
  return n;
}

double ProcessCpuSeconds();

// CPU seconds the client threads (the simulated agents: building each
// message around its encoded summary and writing it to gRPC) have used so
// far. gRPC's own threads, which also do client work, count as collector.
double ThreadsCpuSeconds(std::vector<std::thread>& threads) {
  double total = 0;
  for (std::thread& t : threads) {
    clockid_t clock;
    timespec ts;
    if (pthread_getcpuclockid(t.native_handle(), &clock) == 0 &&
        clock_gettime(clock, &ts) == 0) {
      total += ts.tv_sec + ts.tv_nsec * 1e-9;
    }
  }
  return total;
}

double RssMiB() {
  std::string status = testing::ReadFile("/proc/self/status");
  size_t at = status.find("VmRSS:");
  return at == std::string::npos ? 0
                                 : std::atof(status.c_str() + at + 6) / 1024;
}

// An IngestRequest carrying a report of `summary` (already serialized),
// encoded by hand around it: the few header fields are serialized per
// report, the summary's bytes are referenced, not copied. The simulated
// agents stand in for agents on other hosts: encoding each summary once
// keeps their share of this machine's cores small (the real agent
// serializes each report it sends).
grpc::ByteBuffer EncodedIngestRequest(const std::string& agent_id,
                                      uint64_t sequence, absl::Time start,
                                      const std::string& summary) {
  using google::protobuf::internal::WireFormatLite;
  using google::protobuf::io::CodedOutputStream;
  v1::WindowReport head;
  head.set_agent_id(agent_id);
  head.set_sequence(sequence);
  *head.mutable_window_start() = ToProto(start);
  *head.mutable_window_end() = ToProto(start + absl::Seconds(10));
  std::string report_head = head.SerializeAsString();
  auto put_varint = [](std::string* out, uint64_t v) {
    uint8_t buf[10];
    uint8_t* end = CodedOutputStream::WriteVarint64ToArray(v, buf);
    out->append(reinterpret_cast<const char*>(buf), end - buf);
  };
  put_varint(&report_head, WireFormatLite::MakeTag(
                               v1::WindowReport::kSummaryFieldNumber,
                               WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
  put_varint(&report_head, summary.size());
  std::string prefix;
  put_varint(&prefix, WireFormatLite::MakeTag(
                          v1::IngestRequest::kReportFieldNumber,
                          WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
  put_varint(&prefix, report_head.size() + summary.size());
  prefix += report_head;
  grpc::Slice slices[2] = {
      grpc::Slice(prefix),
      grpc::Slice(summary.data(), summary.size(), grpc::Slice::STATIC_SLICE)};
  return grpc::ByteBuffer(slices, 2);
}

double ProcessCpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec +
         u.ru_stime.tv_usec * 1e-6;
}

}  // namespace aims::bench
