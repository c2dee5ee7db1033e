// The agent's path from an accepted batch to the spool (agent.h): fold and
// intake log record under intake_mu_, checkpoints of a busy window, closed
// windows spooled in order (retried while the spool cannot write), and the
// replay of the intake log at start (agent/intake_log.h).
#include <map>

#include "absl/strings/str_cat.h"
#include "agent/agent.h"
#include "agent/agent_metrics.h"
#include "agent/intake_service.h"
#include "agent/sender.h"
#include "agent/spool.h"
#include "agent/windower.h"
#include "aims/v1/event.pb.h"
#include "common/base/limit_error.h"
#include "common/base/log.h"
#include "common/base/time_util.h"
#include "common/base/utf8.h"
#include "common/rocks/keys.h"
#include "common/summary/summary_merge.h"
#include "common/summary/window_state.h"

namespace aims::agent {

namespace {

// An events record of the intake log: positions in the screened batch (of
// the events taken into the segment's window; in records of earlier agents,
// of those refused as resends), then the request as received. Replay parses
// and screens the request again (the same result: screening depends only on
// the request and its arrival) and takes the same events.
std::string EventRecord(const std::vector<size_t>& positions,
                        absl::string_view request) {
  std::string out;
  AppendUint64BigEndian(positions.size(), &out);
  for (size_t position : positions) AppendUint64BigEndian(position, &out);
  out.append(request.data(), request.size());
  return out;
}

bool ReadEventRecord(absl::string_view record, std::vector<size_t>* duplicates,
                     absl::string_view* request) {
  if (record.size() < 8) return false;
  const uint64_t n = ReadUint64BigEndian(record);
  if (n > (record.size() - 8) / 8) return false;
  for (uint64_t i = 0; i < n; ++i) {
    duplicates->push_back(ReadUint64BigEndian(record, 8 + 8 * i));
  }
  *request = record.substr(8 + 8 * n);
  return true;
}

uint64_t BytesOf(const ClosedWindow& w) {
  uint64_t bytes = w.summary.ByteSizeLong();
  for (const auto& p : w.predictions) bytes += p.ByteSizeLong();
  for (const auto& l : w.labels) bytes += l.ByteSizeLong();
  return bytes;
}

// The labels of a kLabels record, or of a kJoinedLabels record of an
// earlier agent (their predictions were in its label store; they are
// forwarded now).
absl::StatusOr<std::vector<LabelEvent>> LoggedLabels(
    const IntakeRecord& record) {
  std::vector<LabelEvent> out;
  auto add = [&](const std::string& id, const v1::Outcome& label,
                 absl::Time at) {
    LabelEvent l;
    l.prediction_id = id;
    l.label = OutcomeFromProto(label);
    l.timestamp = at;
    out.push_back(std::move(l));
  };
  if (record.kind == IntakeRecord::Kind::kLabels) {
    v1::SubmitLabelsRequest in;
    if (!in.ParseFromString(record.payload)) {
      return absl::DataLossError("intake log: unreadable labels record");
    }
    for (const v1::LabelEvent& l : in.labels()) {
      add(l.prediction_id(), l.label(), FromProto(l.timestamp()));
    }
    return out;
  }
  v1::SubmitEventsRequest in;
  if (!in.ParseFromString(record.payload)) {
    return absl::DataLossError("intake log: unreadable joined labels record");
  }
  for (const v1::InferenceEvent& e : in.events()) {
    add(e.prediction_id(), e.label(), record.arrival);
  }
  return out;
}

}  // namespace

absl::Status Agent::AcceptEvents(EventBatch* batch, IntakeRecord::Kind kind,
                                 absl::string_view request) {
  absl::MutexLock intake(&intake_mu_);
  if (absl::Status room = intake_log_->CheckRoom(request.size()); !room.ok()) {
    metrics_->requests_log_full.Increment();
    return room;
  }
  const absl::Time now = clock_->Now();
  ScreenEvents(batch, now, options_.intake.event);
  Windower::Routes routes = windower_->AddEvents(batch->events, now);
  // Each window instance's segment gets the request with the positions of
  // its events (usually one segment, all of them), so that replay puts each
  // event back where it went.
  const IntakeRecord::Kind routed =
      kind == IntakeRecord::Kind::kJsonEvents
          ? IntakeRecord::Kind::kJsonEventsRouted
          : IntakeRecord::Kind::kProtoEventsRouted;
  uint64_t late = 0;
  for (const auto& [key, positions] : routes.folded) {
    if (absl::UnixEpoch() +
            absl::Floor(key - absl::UnixEpoch(), options_.window) !=
        key) {
      late += positions.size();
    }
    if (absl::Status logged = intake_log_->Append(
            key, routed, now, EventRecord(positions, request));
        !logged.ok()) {
      // Taken and counted, but not safe from a crash: say so.
      metrics_->intake_log.errors.Increment();
      LogError("intake log write failed", {{"error", logged.message()}});
    }
    CheckpointIfLarge(key, now);
  }
  std::vector<std::pair<size_t, EventError>> refused;
  for (size_t position : routes.duplicates) {
    EventError e;
    e.field = "prediction_id";
    e.reason = absl::StrCat(
        "'", CutUtf8(batch->events[position].prediction_id, 64),
        "' was received before and waits for its label; counted once");
    e.duplicate = true;
    refused.emplace_back(position, std::move(e));
  }
  for (size_t position : routes.refused) {
    EventError e;
    e.field = "timestamp";
    e.reason = LimitReason(absl::StrCat("its window would be one more than ",
                                        options_.max_open_windows, " open"),
                           absl::StrCat(options_.max_open_windows),
                           "--max_open_windows");
    e.limit = LimitName("--max_open_windows");
    refused.emplace_back(position, std::move(e));
  }
  RejectEvents(batch, std::move(refused));
  const std::vector<Event>& events = batch->events;
  FeedReference(events);
  metrics_->events_accepted.Increment(static_cast<double>(events.size()));
  metrics_->late_events.Increment(static_cast<double>(late));
  metrics_->unknown_fields.Increment(
      static_cast<double>(batch->unknown_fields));
  CountRefused(batch->errors, /*labels=*/false);
  CountOverflows();
  size_t awaiting = 0;
  for (const Event& e : events) {
    if (!e.prediction_id.empty() && !e.label.present()) ++awaiting;
  }
  metrics_->predictions_unlabelled.Increment(static_cast<double>(awaiting));
  return absl::OkStatus();
}

void Agent::CheckpointIfLarge(absl::Time window, absl::Time now) {
  if (intake_log_->SegmentBytes(window) < intake_log_->max_bytes() / 8) return;
  absl::StatusOr<std::optional<v1::WindowReport>> report =
      windower_->Checkpoint(window);
  if (!report.ok()) {
    LogError("intake log checkpoint failed",
             {{"error", report.status().message()}});
    return;
  }
  if (!report->has_value()) return;
  if (absl::Status s =
          intake_log_->Checkpoint(window, now, (*report)->SerializeAsString());
      !s.ok()) {
    // The batches stay in the log: nothing is lost, the log just grows.
    metrics_->intake_log.errors.Increment();
    LogError("intake log checkpoint failed", {{"error", s.message()}});
    return;
  }
  metrics_->intake_log.checkpoints.Increment();
}

absl::Status Agent::AcceptLabels(LabelBatch* batch) {
  absl::MutexLock intake(&intake_mu_);
  const absl::Time now = clock_->Now();
  ScreenLabels(batch, now, options_.intake.event);
  metrics_->unknown_fields.Increment(
      static_cast<double>(batch->unknown_fields));
  v1::SubmitLabelsRequest record;
  for (const LabelEvent& l : batch->labels) {
    v1::LabelEvent* out = record.add_labels();
    out->set_prediction_id(l.prediction_id);
    OutcomeToProto(l.label, out->mutable_label());
    *out->mutable_timestamp() =
        ToProto(l.timestamp == absl::InfinitePast() ? now : l.timestamp);
  }
  const std::string payload = record.SerializeAsString();
  if (absl::Status room = intake_log_->CheckRoom(payload.size()); !room.ok()) {
    metrics_->requests_log_full.Increment();
    CountRefused(batch->errors, /*labels=*/true);
    return room;
  }
  std::vector<LabelOutcome> outcomes;
  windower_->AddLabels(batch->labels, now, &outcomes);
  // Refused labels leave the batch (and the logged records: they were not
  // taken, so replay must not take them). Each taken label is logged in the
  // segment of the window instance it went to.
  LabelBatch taken;
  std::map<absl::Time, v1::SubmitLabelsRequest> logged;
  uint64_t forwarded = 0;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    LabelOutcome& o = outcomes[i];
    if (o.fate == LabelFate::kFull) {
      o.error.index = batch->indices[i];
      batch->errors.push_back(std::move(o.error));
      continue;
    }
    taken.labels.push_back(std::move(batch->labels[i]));
    taken.indices.push_back(batch->indices[i]);
    *logged[o.key].add_labels() = std::move(*record.mutable_labels(i));
    ++forwarded;
  }
  batch->labels = std::move(taken.labels);
  batch->indices = std::move(taken.indices);
  std::sort(batch->errors.begin(), batch->errors.end(),
            [](const EventError& a, const EventError& b) {
              return a.index < b.index;
            });
  for (const auto& [key, labels] : logged) {
    if (absl::Status s = intake_log_->Append(key, IntakeRecord::Kind::kLabels,
                                             now, labels.SerializeAsString());
        !s.ok()) {
      metrics_->intake_log.errors.Increment();
      LogError("intake log write failed", {{"error", s.message()}});
    }
    CheckpointIfLarge(key, now);
  }
  CountRefused(batch->errors, /*labels=*/true);
  CountOverflows();
  metrics_->labels_forwarded.Increment(static_cast<double>(forwarded));
  return absl::OkStatus();
}

void Agent::SpoolClosed(bool close_open_window) {
  for (;;) {
    std::optional<ClosedWindow> closed;
    {
      // No batch is between its fold and its log record now.
      absl::MutexLock intake(&intake_mu_);
      closed =
          close_open_window ? windower_->CloseNow() : windower_->CloseIfDue();
    }
    if (!closed) break;
    SpoolInOrder(std::move(closed));
  }
  SpoolInOrder(std::nullopt);  // retries what waits
  absl::MutexLock lock(&unspooled_mu_);
  // At shutdown everything taken is spooled: the next run starts afresh
  // (unless windows wait for the spool: their log replays them).
  if (close_open_window && unspooled_.empty()) {
    intake_log_->Trim(absl::InfiniteFuture());
  }
}

void Agent::SpoolInOrder(std::optional<ClosedWindow> closed) {
  absl::MutexLock lock(&unspooled_mu_);
  if (closed) {
    unspooled_bytes_ += BytesOf(*closed);
    unspooled_.push_back(std::move(*closed));
  }
  while (!unspooled_.empty()) {
    const uint64_t bytes = BytesOf(unspooled_.front());
    if (!SpoolWindow(unspooled_.front())) break;
    unspooled_bytes_ -= bytes;
    unspooled_.pop_front();
  }
  while (unspooled_bytes_ > kMaxUnspooledBytes && unspooled_.size() > 1) {
    const ClosedWindow& lost = unspooled_.front();
    LogError("window lost: the spool has taken no window for too long",
             {{"start", FormatRfc3339(lost.start)},
              {"events", lost.summary.operational().event_count()},
              {"waiting_bytes", unspooled_bytes_},
              {"limit", kMaxUnspooledBytes}});
    metrics_->windows_lost.Increment();
    unspooled_bytes_ -= BytesOf(lost);
    unspooled_.pop_front();
  }
  metrics_->windows_unspooled.Set(static_cast<double>(unspooled_.size()));
}

bool Agent::SpoolWindow(ClosedWindow& closed) {
  v1::WindowReport report;
  report.set_agent_id(options_.agent.agent_id());
  *report.mutable_window_start() = ToProto(closed.start);
  *report.mutable_window_end() = ToProto(closed.end);
  *report.mutable_summary() = closed.summary;
  *report.mutable_predictions() = closed.predictions;
  *report.mutable_labels() = closed.labels;
  const uint64_t events = report.summary().operational().event_count();
  const int awaiting = report.predictions_size();
  absl::StatusOr<Spool::AppendResult> appended =
      spool_->Append(std::move(report), closed.key);
  if (!appended.ok()) {
    LogError("window not spooled yet: spool write failed; retried every tick",
             {{"error", appended.status().message()}, {"events", events}});
    return false;
  }
  intake_log_->Drop(closed.key);
  metrics_->windows_closed.Increment();
  metrics_->predictions_awaiting.Increment(static_cast<double>(awaiting));
  if (appended->dropped_windows > 0) {
    metrics_->windows_dropped.Increment(
        static_cast<double>(appended->dropped_windows));
    LogWarn("spool full: windows dropped and recorded as a gap",
            {{"dropped", appended->dropped_windows},
             {"spool_bytes", spool_->pending_bytes()},
             {"limit", spool_->max_bytes()}});
  }
  LogInfo("window closed", {{"seq", appended->sequence},
                            {"start", FormatRfc3339(closed.start)},
                            {"events", events}});
  if (sender_) sender_->Notify();
  return true;
}

absl::StatusOr<std::vector<Event>> Agent::ReplayedEvents(
    const IntakeRecord& record) const {
  // Routed records list the positions taken into this segment's window;
  // earlier ones the positions refused as resends (all others taken).
  std::vector<size_t> positions;
  absl::string_view request;
  if (!ReadEventRecord(record.payload, &positions, &request)) {
    return absl::DataLossError("intake log: unreadable events record");
  }
  const bool routed = record.kind == IntakeRecord::Kind::kJsonEventsRouted ||
                      record.kind == IntakeRecord::Kind::kProtoEventsRouted;
  EventBatch batch;
  if (record.kind == IntakeRecord::Kind::kJsonEvents ||
      record.kind == IntakeRecord::Kind::kJsonEventsRouted) {
    if (absl::Status s = ParseEventBatch(request, options_.intake, &batch);
        !s.ok()) {
      return s;
    }
  } else {
    v1::SubmitEventsRequest proto;
    if (!proto.ParseFromArray(request.data(),
                              static_cast<int>(request.size()))) {
      return absl::DataLossError("intake log: unreadable gRPC request");
    }
    batch = EventBatchFromProto(proto, options_.intake.event);
  }
  ScreenEvents(&batch, record.arrival, options_.intake.event);
  if (routed) {
    std::vector<Event> out;
    out.reserve(positions.size());
    for (size_t position : positions) {
      if (position < batch.events.size()) {
        out.push_back(std::move(batch.events[position]));
      }
    }
    return out;
  }
  std::vector<std::pair<size_t, EventError>> refused;
  for (size_t position : positions) {
    if (position < batch.events.size())
      refused.emplace_back(position, EventError());
  }
  RejectEvents(&batch, std::move(refused));
  return std::move(batch.events);
}

absl::Status Agent::ReplayIntakeLog() {
  windower_->SetReplaying(true);
  absl::Status replayed = ReplaySegments();
  windower_->SetReplaying(false);
  return replayed;
}

absl::Status Agent::ReplaySegments() {
  // Segments already in the spool: the newest one appended (the run may
  // have ended before dropping it), and on-time windows that ended by the
  // newest end spooled (they close in order).
  const absl::Time last_segment = spool_->last_segment();
  const absl::Time last_end = spool_->last_window_end();
  uint64_t replayed = 0;
  for (absl::Time key : intake_log_->Segments()) {
    const absl::Time aligned =
        absl::UnixEpoch() +
        absl::Floor(key - absl::UnixEpoch(), options_.window);
    if (key == last_segment ||
        (key == aligned && aligned + options_.window <= last_end)) {
      intake_log_->Drop(key);
      continue;
    }
    absl::StatusOr<std::vector<IntakeRecord>> records = intake_log_->Read(key);
    if (!records.ok()) return records.status();
    // Every segment continues in its window instance, which closes at the
    // first tick after the replay when it is due.
    for (const IntakeRecord& record : *records) {
      switch (record.kind) {
        case IntakeRecord::Kind::kCheckpoint:
        case IntakeRecord::Kind::kCheckpointReport: {
          // Read() starts at the last checkpoint: it holds all before it.
          v1::WindowReport checkpoint;
          const bool parsed =
              record.kind == IntakeRecord::Kind::kCheckpoint
                  ? checkpoint.mutable_summary()->ParseFromString(
                        record.payload)
                  : checkpoint.ParseFromString(record.payload);
          if (!parsed) {
            return absl::DataLossError("intake log: unreadable checkpoint");
          }
          windower_->RestoreCheckpoint(key, std::move(checkpoint));
          break;
        }
        case IntakeRecord::Kind::kLabels:
        case IntakeRecord::Kind::kJoinedLabels: {
          absl::StatusOr<std::vector<LabelEvent>> labels = LoggedLabels(record);
          if (!labels.ok()) return labels.status();
          windower_->AddLabelsTo(key, *labels, record.arrival);
          break;
        }
        case IntakeRecord::Kind::kJsonEvents:
        case IntakeRecord::Kind::kProtoEvents:
        case IntakeRecord::Kind::kJsonEventsRouted:
        case IntakeRecord::Kind::kProtoEventsRouted: {
          absl::StatusOr<std::vector<Event>> events = ReplayedEvents(record);
          if (!events.ok()) return events.status();
          replayed += events->size();
          windower_->AddTo(key, *events, record.arrival);
          break;
        }
      }
    }
  }
  if (replayed > 0) {
    metrics_->intake_log.events_replayed.Increment(
        static_cast<double>(replayed));
    LogInfo("intake log replayed", {{"events", replayed}});
  }
  return absl::OkStatus();
}

}  // namespace aims::agent
