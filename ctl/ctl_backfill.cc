// backfill: loads historical or batch-scored events (JSON lines or CSV, the
// intake's fields) into their event-time windows and streams the windows to
// the collector's ingest as one backfill agent.
//
// The agent id is "backfill-" + the first 16 hex digits of the file's
// SHA-256. A window is sent (sequences 1, 2, ...) once the file has an
// event --lateness past its end, while the rest is read, so a file in time
// order takes bounded memory; a window reopened by a later row goes again at
// the end. The order depends only on the file and the options, so a second
// load of the same file finds its reports durable (Welcome's
// durable_sequence) and sends nothing: the exactly-once ingest counts the
// file once. The Hello says backfill (it replaces no live agent) and the stream
// ends with a Goodbye, so the backfill agent has left afterwards, not gone
// silent.
//
// Each row with a prediction_id and no label leaves a join record in its
// window's report (as the live agent's, common/summary/window_state.h), so
// labels loaded or posted later join it in its window; a window holds at most
// --max_pending_prediction_bytes of records.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "aims/v1/ingest.grpc.pb.h"
#include "aims/v1/labels.grpc.pb.h"
#include "aims/v1/query.grpc.pb.h"
#include "common/base/hash.h"
#include "common/base/json_string.h"
#include "common/base/mapped_file.h"
#include "common/intake/event_json.h"
#include "common/summary/report_parts.h"
#include "common/summary/window_accumulator.h"
#include "common/summary/window_state.h"
#include "ctl/arguments.h"
#include "ctl/call.h"
#include "ctl/commands.h"
#include "ctl/csv.h"
#include "google/protobuf/util/time_util.h"

namespace aims::ctl {
namespace {

using google::protobuf::util::TimeUtil;

struct BackfillOptions {
  std::string model;
  std::string version;
  std::string environment = "default";
  std::string input;
  std::string format = "auto";  // jsonl, csv; auto: csv for *.csv
  std::string task = "binary";
  std::string positive_class = "1";
  std::string feature_sketches = "unprofiled";  // or "all"
  absl::Duration window = absl::Seconds(10);
  // A window is sent once the file has an event this far past its end.
  absl::Duration lateness = absl::Hours(1);
  size_t max_errors_shown = 20;
  uint64_t max_pending_prediction_bytes = JoinLimits{}.max_pending_bytes;
};

// Non-blank lines parsed per ParseEventBatch call.
constexpr size_t kChunkLines = 8192;
// Larger reports go in parts, as the agent's (--max_part_bytes default).
constexpr size_t kMaxPartBytes = 1 << 20;
constexpr char kMaxPendingFlag[] = "--max_pending_prediction_bytes";

v1::TaskType TaskOf(const std::string& task) {
  if (task == "multiclass") return v1::TASK_TYPE_MULTICLASS;
  if (task == "regression") return v1::TASK_TYPE_REGRESSION;
  return v1::TASK_TYPE_BINARY;
}

struct Totals {
  size_t rows = 0, loaded = 0, errors = 0;
  size_t labels = 0;  // delayed-label rows (prediction_id and label only)
  // Predictions beyond --max_pending_prediction_bytes: loaded, no record.
  uint64_t unjoinable = 0;
};

// A row that names an earlier prediction and its label and nothing else:
// a delayed label, sent to the collector's label join, not a window event.
bool IsLabelRow(const Event& e) {
  return !e.prediction_id.empty() && e.label.present() &&
         !e.prediction.present() && e.features.empty() && !e.score &&
         e.probabilities.empty() && e.attributes.empty() &&
         !e.latency_seconds && !e.error;
}

// Folds the file's events into windows keyed by window index (start /
// window); prints row errors as "FILE:LINE: FIELD: REASON".
class Folder {
 public:
  Folder(const BackfillOptions& options,
         std::shared_ptr<const SummaryConfig> config, std::ostream& err)
      : options_(options), config_(std::move(config)), err_(err) {
    limits_.max_events_per_batch = kChunkLines + 1;
    limits_.event.max_event_age = absl::InfiniteDuration();
    limits_.event.max_clock_skew = absl::InfiniteDuration();
    join_limits_.max_pending_bytes = options.max_pending_prediction_bytes;
  }

  // One row as a JSON object (no newline) from line `line` of the file;
  // returns true when the rows so far were folded (a chunk is full).
  bool Add(absl::string_view json, size_t line) {
    chunk_.append(json.data(), json.size());
    chunk_.push_back('\n');
    lines_.push_back(line);
    if (lines_.size() < kChunkLines) return false;
    Flush();
    return true;
  }
  void Flush() {
    if (lines_.empty()) return;
    Chunk(chunk_, lines_);
    chunk_.clear();
    lines_.clear();
  }

  // `lines[i]`: the 1-based line number of the chunk's i-th non-blank line.
  void Chunk(absl::string_view body, const std::vector<size_t>& lines) {
    EventBatch batch;
    absl::Status st = ParseEventBatch(body, limits_, &batch);
    totals_.rows += lines.size();
    if (!st.ok()) {
      RowError(lines.empty() ? 0 : lines[0], "", st.message());
      totals_.errors += lines.size() - 1;
      return;
    }
    for (const EventError& e : batch.errors) {
      RowError(lines[e.index], e.field, e.reason);
    }
    // Consecutive events of one window are folded together.
    Run run;
    for (size_t i = 0; i < batch.events.size(); ++i) {
      Event& ev = batch.events[i];
      if (IsLabelRow(ev)) {
        v1::LabelEvent* label = labels_.add_labels();
        label->set_prediction_id(ev.prediction_id);
        OutcomeToProto(ev.label, label->mutable_label());
        if (ev.timestamp != absl::InfinitePast()) {
          *label->mutable_timestamp() =
              google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
                  absl::ToUnixNanos(ev.timestamp));
        }
        label_lines_.push_back(lines[batch.indices[i]]);
        continue;
      }
      if (ev.timestamp == absl::InfinitePast()) {
        RowError(lines[batch.indices[i]], "timestamp",
                 "required for backfill (windows are by event time)");
        continue;
      }
      // Floor division: windows are aligned to the epoch, as the agent's.
      const int64_t ns =
          absl::ToInt64Nanoseconds(ev.timestamp - absl::UnixEpoch());
      const int64_t w = absl::ToInt64Nanoseconds(options_.window);
      const int64_t index = ns / w - (ns % w < 0 ? 1 : 0);
      if (!run.events.empty() && run.index != index) Fold(&run);
      run.index = index;
      run.events.push_back(std::move(ev));
      run.lines.push_back(lines[batch.indices[i]]);
    }
    Fold(&run);
  }

  // The windows the file has left behind, in time order, to send: those
  // ending --lateness or more before the newest event folded so far (all
  // with `at_end`). A window a late row reopened after it was sent stays to
  // the end of the file, so that unsorted input sends it once more, not
  // once per chunk.
  std::vector<std::pair<int64_t, std::unique_ptr<WindowState>>> TakeReady(
      bool at_end) {
    std::vector<std::pair<int64_t, std::unique_ptr<WindowState>>> ready;
    const int64_t behind =
        absl::Ceil(options_.lateness, options_.window) / options_.window;
    for (auto it = windows_.begin(); it != windows_.end();) {
      const bool past = it->first + 1 + behind <= newest_;
      if (!at_end && (!past || reopened_.contains(it->first))) {
        if (!past) break;  // the rest are newer
        ++it;
        continue;
      }
      sent_.insert(it->first);
      reopened_.erase(it->first);
      ready.emplace_back(it->first, std::move(it->second));
      it = windows_.erase(it);
    }
    return ready;
  }
  const Totals& totals() const { return totals_; }
  // The delayed-label rows folded since the last TakeLabels() (model and
  // environment unset), and the file line of each.
  size_t pending_labels() const { return label_lines_.size(); }
  void TakeLabels(v1::SubmitModelLabelsRequest* labels,
                  std::vector<size_t>* lines) {
    labels->Swap(&labels_);
    labels_.Clear();
    lines->swap(label_lines_);
    label_lines_.clear();
  }
  // A row refused by the collector (counted as a row error).
  void LabelError(size_t line, absl::string_view field,
                  absl::string_view reason) {
    RowError(line, field, reason);
  }
  void CountLabels(size_t accepted) { totals_.labels += accepted; }

 private:
  struct Run {
    int64_t index = 0;
    std::vector<Event> events;
    std::vector<size_t> lines;
  };

  // Folds `run` into its window (a prediction_id waiting there already is a
  // repeat: refused, as the agent refuses a resend) and empties it.
  void Fold(Run* run) {
    if (run->events.empty()) return;
    std::unique_ptr<WindowState>& state = windows_[run->index];
    if (!state) {
      state = std::make_unique<WindowState>(config_, &join_limits_);
      if (sent_.contains(run->index)) reopened_.insert(run->index);
    }
    newest_ = std::max(newest_, run->index);
    // Every event has its timestamp: `arrival` is never used.
    const std::vector<size_t> repeats =
        state->Add(run->events, run->events.front().timestamp);
    for (size_t r : repeats) {
      RowError(run->lines[r], "prediction_id",
               "repeats an unlabelled prediction of its window (counted once)");
    }
    totals_.loaded += run->events.size() - repeats.size();
    totals_.unjoinable += state->TakeUnjoinable();
    run->events.clear();
    run->lines.clear();
  }

  void RowError(size_t line, absl::string_view field,
                absl::string_view reason) {
    ++totals_.errors;
    if (totals_.errors > options_.max_errors_shown) return;
    err_ << options_.input << ":" << line << ": "
         << (field.empty() ? "" : absl::StrCat(field, ": ")) << reason << "\n";
  }

  const BackfillOptions& options_;
  std::shared_ptr<const SummaryConfig> config_;
  std::ostream& err_;
  JsonIntakeLimits limits_;
  JoinLimits join_limits_;
  std::string chunk_;
  std::vector<size_t> lines_;
  std::map<int64_t, std::unique_ptr<WindowState>> windows_;
  int64_t newest_ = std::numeric_limits<int64_t>::min();
  absl::flat_hash_set<int64_t> sent_, reopened_;
  v1::SubmitModelLabelsRequest labels_;
  std::vector<size_t> label_lines_;
  Totals totals_;
};

// Sends the delayed-label rows folded so far to the collector's label join,
// 10,000 per call; the collector's per-label errors become row errors. A
// label whose prediction's window is not sent yet waits for it there.
absl::Status SendLabels(const CallOptions& call, const v1::ModelRef& model,
                        Folder* folder) {
  constexpr int kPerCall = 10000;
  v1::SubmitModelLabelsRequest all;
  std::vector<size_t> lines;
  folder->TakeLabels(&all, &lines);
  for (int begin = 0; begin < all.labels_size(); begin += kPerCall) {
    v1::SubmitModelLabelsRequest request;
    request.set_model(model.name());
    request.set_environment(model.environment());
    const int end = std::min(all.labels_size(), begin + kPerCall);
    for (int i = begin; i < end; ++i) *request.add_labels() = all.labels(i);
    absl::StatusOr<v1::SubmitResponse> response =
        Call(call, &v1::LabelService::Stub::SubmitLabels, request);
    if (!response.ok()) return response.status();
    for (const v1::ItemError& e : response->errors()) {
      folder->LabelError(lines[begin + e.index()], e.field(), e.reason());
    }
    folder->CountLabels(response->accepted());
  }
  return absl::OkStatus();
}

bool IsCsv(const BackfillOptions& options) {
  if (options.format != "auto") return options.format == "csv";
  return absl::EndsWithIgnoreCase(options.input, ".csv");
}

// A number as itself, anything else as a string (the parser then names the
// field of a wrong type).
void AppendJsonValue(absl::string_view text, std::string* out) {
  double number;
  if (absl::SimpleAtod(text, &number) && std::isfinite(number) &&
      text.find_first_of("xXiInN") == absl::string_view::npos) {
    out->append(text.data(), text.size());
  } else {
    AppendJsonString(text, out);
  }
}

// One CSV row as the intake's JSON object: the columns prediction_id,
// timestamp, prediction, score, label, latency_seconds and error are the
// event's fields, "attributes.NAME" its attributes and every other column a
// feature. An empty cell is an absent field (a missing feature).
std::string CsvRowToJson(const std::vector<std::string>& header,
                         const std::vector<std::string>& row) {
  static constexpr absl::string_view kTop[] = {
      "prediction_id", "timestamp",       "prediction", "score",
      "label",         "latency_seconds", "error"};
  std::string top = "{", features, attributes;
  for (size_t i = 0; i < header.size() && i < row.size(); ++i) {
    if (row[i].empty()) continue;
    const std::string& name = header[i];
    std::string* target = &features;
    absl::string_view key = name;
    if (std::find(std::begin(kTop), std::end(kTop), name) != std::end(kTop)) {
      target = &top;
    } else if (absl::ConsumePrefix(&key, "attributes.")) {
      target = &attributes;
    }
    if (target->size() > 1 || (target != &top && !target->empty())) {
      target->push_back(',');
    }
    AppendJsonString(key, target);
    target->push_back(':');
    if (name == "prediction_id" || name == "timestamp" ||
        target == &attributes) {
      AppendJsonString(row[i], target);
    } else if (name == "error" && (row[i] == "true" || row[i] == "false")) {
      target->append(row[i]);
    } else {
      AppendJsonValue(row[i], target);
    }
  }
  if (!features.empty()) {
    absl::StrAppend(&top, top.size() > 1 ? "," : "", "\"features\":{", features,
                    "}");
  }
  if (!attributes.empty()) {
    absl::StrAppend(&top, top.size() > 1 ? "," : "", "\"attributes\":{",
                    attributes, "}");
  }
  return top + "}";
}

// The reference profile of the model version, if the collector has one
// (its bins give the windows histograms, as the live agent's do).
std::shared_ptr<const v1::ReferenceProfile> FetchProfile(
    const CallOptions& call, const v1::ModelRef& model) {
  v1::GetProfileRequest request;
  *request.mutable_model() = model;
  absl::StatusOr<v1::ReferenceProfile> profile =
      Call(call, &v1::QueryService::Stub::GetProfile, request);
  if (!profile.ok()) return nullptr;
  return std::make_shared<const v1::ReferenceProfile>(*std::move(profile));
}

void Progress(size_t done, size_t total, bool tty, std::ostream& err) {
  if (!tty || total == 0) return;
  done = std::min(done, total);  // tellg() is -1 once a stream has failed
  const int width = 40;
  const int filled = static_cast<int>(width * done / total);
  err << "\r[" << std::string(filled, '#') << std::string(width - filled, ' ')
      << "] " << (100 * done / total) << "%" << std::flush;
}

struct StreamCounts {
  size_t sent = 0, skipped = 0;  // reports sent, already durable
  size_t records = 0;            // join records sent
};

// The ingest stream of one backfill: reports get sequences 1, 2, ... in the
// order Send() is called, which depends only on the file and the options,
// so a second load finds the first's durable (Welcome's durable_sequence)
// and sends only what was not.
class WindowStream {
 public:
  WindowStream(const CallOptions& call, v1::ModelRef model,
               std::string agent_id, absl::Duration window)
      : call_(call),
        model_(std::move(model)),
        agent_id_(std::move(agent_id)),
        window_(window),
        stub_(call.channel) {}

  // Sends the report of window `index` unless durable already.
  absl::Status Send(int64_t index, WindowState* state) {
    if (stream_ == nullptr) {
      if (absl::Status s = Open(); !s.ok()) return s;
    }
    if (++sequence_ <= durable_) {
      ++counts_.skipped;
      return absl::OkStatus();
    }
    // Summary (labels_awaited set) and join records, as the agent's.
    v1::WindowReport report = state->Take();
    report.set_agent_id(agent_id_);
    report.set_sequence(sequence_);
    *report.mutable_window_start() = TimeUtil::NanosecondsToTimestamp(
        absl::ToInt64Nanoseconds(index * window_));
    *report.mutable_window_end() = TimeUtil::NanosecondsToTimestamp(
        absl::ToInt64Nanoseconds((index + 1) * window_));
    const size_t records = report.predictions_size();
    std::vector<v1::WindowReport> parts;
    if (report.ByteSizeLong() > kMaxPartBytes) {
      parts = SplitReport(report, kMaxPartBytes);
    } else {
      parts.push_back(std::move(report));  // most windows: no copy
    }
    for (v1::WindowReport& part : parts) {
      v1::IngestRequest request;
      *request.mutable_report() = std::move(part);
      if (!stream_->Write(request)) return Close();  // the stream's error
    }
    last_ = sequence_;
    ++counts_.sent;
    counts_.records += records;
    return absl::OkStatus();
  }

  // Waits until everything sent is durable, then leaves (Goodbye).
  absl::Status Close() {
    if (stream_ == nullptr || closed_) return absl::OkStatus();
    closed_ = true;
    v1::IngestResponse response;
    uint64_t acked = durable_;
    while (acked < last_ && stream_->Read(&response)) {
      if (response.has_ack()) acked = response.ack().durable_sequence();
      if (response.has_rejection()) {
        stream_->WritesDone();
        stream_->Finish();
        return absl::InvalidArgumentError(absl::StrCat(
            "collector ", call_.collector, " rejected window ",
            response.rejection().sequence(), ": ", response.rejection().field(),
            ": ", response.rejection().reason()));
      }
    }
    v1::IngestRequest bye;
    bye.mutable_goodbye()->set_reason("backfill done");
    stream_->Write(bye);
    stream_->WritesDone();
    while (stream_->Read(&response)) {
    }
    grpc::Status status = stream_->Finish();
    if (acked < last_) {
      return status.ok()
                 ? absl::UnavailableError(absl::StrCat(
                       "collector ", call_.collector,
                       ": stream ended before all windows were durable"))
                 : CollectorError(call_, status);
    }
    return absl::OkStatus();
  }

  const StreamCounts& counts() const { return counts_; }

 private:
  absl::Status Open() {
    // A large file takes longer than one --timeout.
    context_.set_deadline(
        absl::ToChronoTime(absl::Now() + call_.timeout + absl::Minutes(30)));
    stream_ = stub_.Report(&context_);
    v1::IngestRequest hello;
    hello.mutable_hello()->mutable_agent()->set_agent_id(agent_id_);
    *hello.mutable_hello()->mutable_model() = model_;
    hello.mutable_hello()->set_protocol_version(1);
    hello.mutable_hello()->set_backfill(true);
    v1::IngestResponse response;
    if (!stream_->Write(hello) || !stream_->Read(&response) ||
        !response.has_welcome()) {
      closed_ = true;
      stream_->WritesDone();
      return CollectorError(call_, stream_->Finish());
    }
    durable_ = response.welcome().durable_sequence();
    return absl::OkStatus();
  }

  const CallOptions& call_;
  const v1::ModelRef model_;
  const std::string agent_id_;
  const absl::Duration window_;
  v1::IngestService::Stub stub_;
  grpc::ClientContext context_;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::IngestRequest, v1::IngestResponse>>
      stream_;
  bool closed_ = false;
  uint64_t durable_ = 0, sequence_ = 0, last_ = 0;
  StreamCounts counts_;
};

// Sends the windows the folder has left behind (all with `at_end`), and
// the delayed labels once 10,000 are waiting (all with `at_end`).
absl::Status SendReady(const CallOptions& call, const v1::ModelRef& model,
                       Folder* folder, WindowStream* stream, bool at_end) {
  for (auto& [index, state] : folder->TakeReady(at_end)) {
    if (absl::Status s = stream->Send(index, state.get()); !s.ok()) return s;
  }
  if (folder->pending_labels() >= 10000 ||
      (at_end && folder->pending_labels() > 0)) {
    return SendLabels(call, model, folder);
  }
  return absl::OkStatus();
}

absl::Status Backfill(const CallOptions& call, const BackfillOptions& options,
                      std::ostream& out, std::ostream& err) {
  if (options.model.empty() || options.version.empty()) {
    return UsageError("--model and --version: required");
  }
  if (options.input.empty()) return UsageError("--input: required");
  if (options.window < absl::Seconds(1) || options.window > absl::Hours(1)) {
    return UsageError("--window: 1s..1h");
  }
  if (options.lateness < absl::ZeroDuration() ||
      options.lateness > absl::Hours(24 * 7)) {
    return UsageError("--lateness: 0s..7d");
  }
  absl::StatusOr<MappedFile> mapped = MappedFile::Open(options.input);
  if (!mapped.ok()) {
    return UsageError(absl::StrCat("--input: ", mapped.status().message()));
  }
  const absl::string_view body = mapped->data();
  const std::string agent_id =
      absl::StrCat("backfill-", Sha256Hex(body).substr(0, 16));

  v1::ModelRef model;
  model.set_name(options.model);
  model.set_version(options.version);
  model.set_environment(options.environment);
  auto config = std::make_shared<SummaryConfig>();
  config->task = TaskOf(options.task);
  config->positive_class = options.positive_class;
  if (options.feature_sketches == "all") {
    config->feature_sketches = SummaryConfig::FeatureSketches::kAll;
  }
  config->profile = FetchProfile(call, model);
  Folder folder(options, config, err);
  WindowStream stream(call, model, agent_id, options.window);

  // Windows go as soon as the file has left them behind, while the rest is
  // read and folded.
  const bool tty = isatty(STDERR_FILENO) && !call.json;
  absl::Status streamed;
  auto folded = [&](size_t done) {
    Progress(done, body.size(), tty, err);
    if (streamed.ok()) {
      streamed = SendReady(call, model, &folder, &stream, /*at_end=*/false);
    }
  };
  if (IsCsv(options)) {
    std::ifstream in(options.input, std::ios::binary);
    std::vector<std::string> header;
    absl::Status read = ReadCsv(
        in, &header, [&](const std::vector<std::string>& row, size_t line) {
          if (folder.Add(CsvRowToJson(header, row), line)) {
            folded(static_cast<size_t>(in.tellg()));
          }
          return streamed;  // a failed stream ends the read
        });
    if (!read.ok() && streamed.ok()) {
      return UsageError(absl::StrCat(options.input, ": ", read.message()));
    }
  } else {
    size_t pos = 0, line = 0;
    while (pos < body.size() && streamed.ok()) {
      size_t end = body.find('\n', pos);
      if (end == std::string::npos) end = body.size();
      ++line;
      absl::string_view text(body.data() + pos, end - pos);
      pos = end + 1;
      if (text.find_first_not_of(" \t\r") == absl::string_view::npos) {
        continue;
      }
      if (folder.Add(text, line)) folded(pos);
    }
  }
  folder.Flush();
  if (tty) err << "\n";
  if (streamed.ok()) {
    streamed = SendReady(call, model, &folder, &stream, /*at_end=*/true);
  }
  if (absl::Status closed = stream.Close(); streamed.ok()) streamed = closed;
  const StreamCounts& counts = stream.counts();
  const size_t windows = counts.sent + counts.skipped;
  const Totals& t = folder.totals();
  if (t.errors > options.max_errors_shown) {
    err << "... " << (t.errors - options.max_errors_shown)
        << " more row errors\n";
  }
  out << "backfill " << agent_id << ": " << t.rows << " rows, " << t.loaded
      << " events loaded, " << t.errors << " row errors; " << windows
      << " windows, " << counts.sent << " sent, " << counts.skipped
      << " already loaded, " << counts.records << " join records; " << t.labels
      << " delayed labels sent\n";
  if (streamed.ok() && t.unjoinable > 0) {
    // Folded, but no label can join them: the limit, named, is the cause.
    return absl::ResourceExhaustedError(absl::StrCat(
        t.unjoinable, " unlabelled predictions beyond ", kMaxPendingFlag, " (",
        options.max_pending_prediction_bytes,
        " bytes of join records per window) were loaded without a join "
        "record: no label can join them; raise ",
        kMaxPendingFlag, " or use shorter windows"));
  }
  if (streamed.ok() && t.errors > 0) {
    // The good rows are loaded; the exit code says some were not.
    return absl::FailedPreconditionError(
        absl::StrCat(t.errors, " rows rejected (see the row errors above)"));
  }
  return streamed;
}

}  // namespace

void AddBackfillCommand(CLI::App* app, CommandTable* table) {
  auto o = std::make_shared<BackfillOptions>();
  CLI::App* sub = table->Add(
      app, "backfill",
      "Load historical or batch-scored events (JSON lines or CSV, the "
      "intake's fields; each needs a timestamp) into their event-time windows. "
      "Loading the same file twice counts it once. A row with only "
      "prediction_id and label (and optionally timestamp: when the truth "
      "became known) is a delayed label for an earlier prediction, sent to "
      "the collector's label join; a row with prediction_id and no label "
      "leaves a join record in its window for such labels. Exits 1 when any "
      "row was rejected (the "
      "good rows are loaded), 0 otherwise.",
      [o](const CallOptions& call, std::ostream& out, std::ostream& err) {
        return Backfill(call, *o, out, err);
      });
  sub->add_option("--model", o->model, "Model name (required).");
  sub->add_option("--version", o->version, "Model version (required).");
  sub->add_option("--environment", o->environment, "Deployment environment.")
      ->capture_default_str();
  sub->add_option("--input", o->input,
                  "File of events: JSON lines, or CSV with a header row "
                  "(columns prediction_id, timestamp, prediction, score, "
                  "label, latency_seconds, error, attributes.NAME; every "
                  "other column is a feature) (required).");
  sub->add_option("--format", o->format, "auto (csv for *.csv), jsonl or csv.")
      ->check(CLI::IsMember({"auto", "jsonl", "csv"}))
      ->capture_default_str();
  sub->add_option("--task", o->task, "binary, multiclass or regression.")
      ->capture_default_str();
  sub->add_option("--positive_class", o->positive_class,
                  "Binary tasks: the positive class.")
      ->capture_default_str();
  sub->add_option("--feature_sketches", o->feature_sketches,
                  "Which numeric features keep a quantile sketch, as the "
                  "agents' --feature_sketches: unprofiled or all.")
      ->check(CLI::IsMember({"unprofiled", "all"}))
      ->capture_default_str();
  AddDurationOption(sub, "--window", &o->window,
                    "Window length, as the live agents' --window (1s..1h).");
  AddDurationOption(
      sub, "--lateness", &o->lateness,
      "A window is sent once the file has an event this much past its "
      "end, while the rest is read: a file in time order is loaded in "
      "bounded memory. A row for a window already sent goes in a second "
      "report of it at the end. Resuming an interrupted load needs the "
      "same --window and --lateness (0s..7d).");
  sub->add_option(kMaxPendingFlag, o->max_pending_prediction_bytes,
                  "Bytes of join records (rows with prediction_id and no "
                  "label) one window holds, as the agent's flag; beyond it "
                  "a prediction is loaded but no label can join it, and the "
                  "command fails naming this flag.")
      ->check(CLI::Range(uint64_t{1024}, uint64_t{64} << 20))
      ->capture_default_str();
  sub->add_option("--max_errors_shown", o->max_errors_shown,
                  "Row errors printed (all are counted).")
      ->capture_default_str();
}

}  // namespace aims::ctl
