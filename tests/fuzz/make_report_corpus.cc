// Writes the seed corpus of the report fuzz target (report_fuzz.cc) into the
// directory named on the command line: aims.v1.IngestRequest messages made
// by the agent's own WindowAccumulator from the events of
// tests/fuzz/report_fixture.h (valid reports of a binary, a multiclass and a
// regression model, a split part, a hello, a gap), and near-valid variants
// that fail one check each. Rerun after a change of the wire format:
//   build/tests/make_report_corpus tests/fuzz/corpus/report
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "aims/v1/ingest.pb.h"
#include "common/base/time_util.h"
#include "common/summary/window_accumulator.h"
#include "tests/fuzz/report_fixture.h"

namespace aims::fuzz {
namespace {

v1::WindowReport Report(const v1::WindowSummary& summary) {
  v1::WindowReport r;
  r.set_agent_id("agent-1");
  r.set_sequence(7);
  *r.mutable_window_start() = ToProto(absl::FromUnixSeconds(1767225600));
  *r.mutable_window_end() = ToProto(absl::FromUnixSeconds(1767225610));
  *r.mutable_summary() = summary;
  return r;
}

v1::WindowSummary Summary(v1::TaskType task, int shift,
                          std::shared_ptr<const v1::ReferenceProfile> profile) {
  auto config = std::make_shared<SummaryConfig>();
  config->task = task;
  config->profile = std::move(profile);
  WindowAccumulator window(config);
  for (Event e : FixtureEvents(50, shift)) {
    if (task == v1::TASK_TYPE_REGRESSION) {
      e.prediction.number = e.features[0].second.number * 1.1;
      e.label.number = e.features[0].second.number;
      e.score.reset();
    } else if (task == v1::TASK_TYPE_MULTICLASS) {
      e.prediction.kind = e.label.kind = Outcome::Kind::kClass;
      e.prediction.class_label = e.features[1].second.category;
      e.label.class_label = shift % 2 ? "Lyon" : e.prediction.class_label;
      e.score.reset();
      e.probabilities = {{"Paris", 0.5}, {"Lyon", 0.3}, {"Nice", 0.2}};
    }
    window.Add(e);
  }
  window.CountRejected("features", 3);
  window.CountLabelMisses(2, 1);
  return window.Build();
}

void Write(const std::string& dir, const std::string& name,
           const v1::IngestRequest& request) {
  std::ofstream out(dir + "/" + name, std::ios::binary);
  out << request.SerializeAsString();
}

void WriteReport(const std::string& dir, const std::string& name,
                 const v1::WindowReport& report) {
  v1::IngestRequest request;
  *request.mutable_report() = report;
  Write(dir, name, request);
}

int Main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_report_corpus DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  auto profile = std::make_shared<v1::ReferenceProfile>(FixtureProfile());
  const v1::WindowReport binary =
      Report(Summary(v1::TASK_TYPE_BINARY, 0, profile));
  WriteReport(dir, "binary.pb", binary);
  WriteReport(dir, "binary_drifted.pb",
              Report(Summary(v1::TASK_TYPE_BINARY, 13, profile)));
  WriteReport(dir, "multiclass.pb",
              Report(Summary(v1::TASK_TYPE_MULTICLASS, 1, nullptr)));
  WriteReport(dir, "regression.pb",
              Report(Summary(v1::TASK_TYPE_REGRESSION, 0, nullptr)));
  WriteReport(dir, "empty_summary.pb", Report(v1::WindowSummary()));
  v1::WindowReport part = binary;
  part.set_part_index(1);
  part.set_part_count(2);
  part.mutable_summary()->clear_attributes();
  WriteReport(dir, "part.pb", part);

  v1::IngestRequest hello;
  hello.mutable_hello()->mutable_agent()->set_agent_id("agent-1");
  hello.mutable_hello()->mutable_agent()->set_pod("pod-0");
  (*hello.mutable_hello()->mutable_agent()->mutable_labels())["zone"] = "a";
  hello.mutable_hello()->mutable_model()->set_name("credit");
  hello.mutable_hello()->mutable_model()->set_version("v1");
  hello.mutable_hello()->mutable_model()->set_environment("prod");
  hello.mutable_hello()->set_protocol_version(1);
  Write(dir, "hello.pb", hello);
  v1::IngestRequest gap;
  gap.mutable_gap()->set_agent_id("agent-1");
  gap.mutable_gap()->set_first_sequence(3);
  gap.mutable_gap()->set_last_sequence(9);
  gap.mutable_gap()->set_reason("spool_full");
  gap.mutable_gap()->set_event_count(120);
  Write(dir, "gap.pb", gap);

  // Near-valid: one check fails in each.
  v1::WindowReport r = binary;
  *r.mutable_window_end() = r.window_start();
  WriteReport(dir, "bad_window.pb", r);
  r = binary;
  r.mutable_summary()->mutable_features()->SwapElements(0, 1);
  WriteReport(dir, "bad_feature_order.pb", r);
  r = binary;
  r.mutable_summary()->mutable_features(0)->mutable_sketch()->set_count(1);
  WriteReport(dir, "bad_sketch_count.pb", r);
  r = binary;
  r.mutable_summary()->mutable_performance()->mutable_confusion()->add_counts(
      1);
  WriteReport(dir, "bad_confusion.pb", r);
  r = binary;
  r.set_part_index(2);
  r.set_part_count(2);
  WriteReport(dir, "bad_part_index.pb", r);
  r = binary;
  r.mutable_summary()->mutable_features(0)->set_sum(1.0 / 0.0);
  WriteReport(dir, "bad_sum.pb", r);
  // Sketch stores in both wire forms: one value per index delta (sparse),
  // or counts per bucket (dense).
  r = binary;
  v1::QuantileSketch* sketch =
      r.mutable_summary()->mutable_features(0)->mutable_sketch();
  sketch->clear_positive_counts();
  sketch->clear_positive_index_deltas();
  sketch->clear_negative_counts();
  sketch->clear_negative_index_deltas();
  sketch->set_zero_count(0);
  for (uint32_t delta : {0u, 0u, 5u, 1u}) {
    sketch->add_positive_index_deltas(delta);
  }
  sketch->set_count(4);
  WriteReport(dir, "sparse_sketch.pb", r);
  v1::WindowReport dense = r;
  v1::QuantileSketch* dense_sketch =
      dense.mutable_summary()->mutable_features(0)->mutable_sketch();
  dense_sketch->clear_positive_index_deltas();
  for (uint64_t count : {2u, 0u, 0u, 0u, 0u, 1u, 1u}) {
    dense_sketch->add_positive_counts(count);
  }
  WriteReport(dir, "dense_sketch.pb", dense);
  sketch->add_positive_counts(1);  // both forms in one store
  sketch->set_count(5);
  WriteReport(dir, "bad_sparse_both.pb", r);
  sketch->clear_positive_counts();
  sketch->add_positive_index_deltas(4000);  // past the span limit
  sketch->set_count(5);
  WriteReport(dir, "bad_sparse_span.pb", r);
  return 0;
}

}  // namespace
}  // namespace aims::fuzz

int main(int argc, char** argv) { return aims::fuzz::Main(argc, argv); }
