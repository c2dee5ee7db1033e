// The agent's path from an accepted batch to the spool (agent.h): fold and
// intake log record under intake_mu_, checkpoints of a busy window, closed
// windows spooled in order (retried while the spool cannot write), and the
// replay of the intake log at start (agent/intake_log.h).
#include "absl/strings/str_cat.h"
#include "agent/agent.h"
#include "agent/agent_metrics.h"
#include "agent/intake_service.h"
#include "agent/sender.h"
#include "agent/spool.h"
#include "agent/windower.h"
#include "common/base/log.h"
#include "common/base/time_util.h"
#include "common/base/utf8.h"
#include "common/rocks/keys.h"
#include "common/summary/summary_merge.h"

namespace aims::agent {

namespace {

// An events record of the intake log: the positions (in the screened batch)
// refused as repeated prediction ids, then the request as received. Replay
// parses and screens the request again (the same result: screening depends
// only on the request and its arrival) and refuses the same positions, which
// the label store can no longer tell.
std::string EventRecord(const std::vector<size_t>& duplicates,
                        absl::string_view request) {
  std::string out;
  AppendUint64BigEndian(duplicates.size(), &out);
  for (size_t position : duplicates) AppendUint64BigEndian(position, &out);
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
  // Remember predictions that wait for a delayed label; a prediction_id
  // already waiting is a resend and counts once.
  uint64_t evicted = 0;
  std::vector<size_t> duplicate_positions;
  absl::StatusOr<LabelStore::Remembered> remembered =
      labels_->Remember(batch->events, now);
  if (!remembered.ok()) {
    LogError("label store write failed",
             {{"error", remembered.status().message()}});
  } else {
    evicted = remembered->evicted;
    duplicate_positions = remembered->duplicates;
    std::vector<std::pair<size_t, EventError>> duplicates;
    for (size_t position : remembered->duplicates) {
      EventError e;
      e.field = "prediction_id";
      e.reason = absl::StrCat(
          "'", CutUtf8(batch->events[position].prediction_id, 64),
          "' was received before and waits for its label; counted once");
      e.duplicate = true;
      duplicates.emplace_back(position, std::move(e));
    }
    RejectEvents(batch, std::move(duplicates));
  }
  const std::vector<Event>& events = batch->events;
  const absl::Time window = windower_->Add(events);
  if (absl::Status logged = intake_log_->Append(
          window, kind, now, EventRecord(duplicate_positions, request));
      !logged.ok()) {
    // Taken and counted, but not safe from a crash: say so.
    metrics_->intake_log.errors.Increment();
    LogError("intake log write failed", {{"error", logged.message()}});
  }
  CheckpointIfLarge(window, now);
  FeedReference(events);
  metrics_->events_accepted.Increment(static_cast<double>(events.size()));
  metrics_->unknown_fields.Increment(
      static_cast<double>(batch->unknown_fields));
  CountRefused(batch->errors, /*labels=*/false);
  CountOverflows();
  size_t awaiting = 0;
  for (const Event& e : events) {
    if (!e.prediction_id.empty() && !e.label.present()) ++awaiting;
  }
  if (remembered.ok() && awaiting > 0) {
    metrics_->predictions_unlabelled.Increment(static_cast<double>(awaiting));
  }
  if (evicted > 0) {
    metrics_->labels_evicted.Increment(static_cast<double>(evicted));
    metrics_->LimitOverflowed("label_store_max_entries",
                              static_cast<double>(evicted));
    windower_->CountLabelMisses(0, evicted);
  }
  return absl::OkStatus();
}

void Agent::CheckpointIfLarge(absl::Time window, absl::Time now) {
  if (intake_log_->SegmentBytes(window) < intake_log_->max_bytes() / 8) return;
  absl::StatusOr<std::optional<v1::WindowSummary>> summary =
      windower_->Checkpoint(window);
  if (!summary.ok()) {
    LogError("intake log checkpoint failed",
             {{"error", summary.status().message()}});
    return;
  }
  if (!summary->has_value()) return;
  if (absl::Status s =
          intake_log_->Checkpoint(window, now, (*summary)->SerializeAsString());
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
  CountRefused(batch->errors, /*labels=*/true);
  metrics_->unknown_fields.Increment(
      static_cast<double>(batch->unknown_fields));
  std::vector<JoinedLabel> joined;
  uint64_t unmatched = 0;
  if (absl::Status room = intake_log_->CheckRoom(0); !room.ok()) {
    metrics_->requests_log_full.Increment();
    return room;
  }
  if (absl::Status s = labels_->Join(batch->labels, now, &joined, &unmatched);
      !s.ok()) {
    LogError("label join failed", {{"error", s.message()}});
    return absl::OkStatus();
  }
  absl::Time window;
  const size_t late = windower_->AddJoinedLabels(joined, &window);
  if (!joined.empty()) {
    if (absl::Status logged =
            intake_log_->Append(window, IntakeRecord::Kind::kJoinedLabels, now,
                                EncodeJoinedLabels(joined));
        !logged.ok()) {
      metrics_->intake_log.errors.Increment();
      LogError("intake log write failed", {{"error", logged.message()}});
    }
    CheckpointIfLarge(window, now);
  }
  windower_->CountLabelMisses(unmatched, 0);
  CountOverflows();
  for (const JoinedLabel& j : joined) {
    metrics_->label_delay.Observe(
        absl::ToDoubleSeconds(j.labelled_at - j.predicted_at));
  }
  metrics_->labels_matched.Increment(static_cast<double>(joined.size()));
  metrics_->labels_late.Increment(static_cast<double>(late));
  metrics_->labels_unmatched.Increment(static_cast<double>(unmatched));
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
    unspooled_bytes_ += closed->summary.ByteSizeLong();
    unspooled_.push_back(std::move(*closed));
  }
  while (!unspooled_.empty()) {
    const uint64_t bytes = unspooled_.front().summary.ByteSizeLong();
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
    unspooled_bytes_ -= lost.summary.ByteSizeLong();
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
  const uint64_t events = report.summary().operational().event_count();
  absl::StatusOr<Spool::AppendResult> appended =
      spool_->Append(std::move(report));
  if (!appended.ok()) {
    LogError("window not spooled yet: spool write failed; retried every tick",
             {{"error", appended.status().message()}, {"events", events}});
    return false;
  }
  intake_log_->Trim(closed.end);
  metrics_->windows_closed.Increment();
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
  std::vector<size_t> duplicates;
  absl::string_view request;
  if (!ReadEventRecord(record.payload, &duplicates, &request)) {
    return absl::DataLossError("intake log: unreadable events record");
  }
  EventBatch batch;
  if (record.kind == IntakeRecord::Kind::kJsonEvents) {
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
  std::vector<std::pair<size_t, EventError>> refused;
  for (size_t position : duplicates) {
    if (position < batch.events.size())
      refused.emplace_back(position, EventError());
  }
  RejectEvents(&batch, std::move(refused));
  return std::move(batch.events);
}

absl::Status Agent::ReplayIntakeLog() {
  // Windows before the last one spooled were spooled (the run ended between
  // spooling a window and dropping its log).
  intake_log_->Trim(spool_->last_window_end());
  windower_->SetReplaying(true);
  absl::Status replayed = ReplaySegments();
  windower_->SetReplaying(false);
  return replayed;
}

absl::Status Agent::ReplaySegments() {
  const absl::Time current = windower_->current_start();
  uint64_t replayed = 0;
  for (absl::Time start : intake_log_->Segments()) {
    absl::StatusOr<std::vector<IntakeRecord>> records =
        intake_log_->Read(start);
    if (!records.ok()) return records.status();
    // A window at or after the open one continues in it; an earlier one is
    // rebuilt and spooled (the earlier run never spooled it).
    const bool open = start >= current;
    WindowAccumulator past(std::make_shared<SummaryConfig>(options_.summary));
    std::optional<v1::WindowSummary> past_checkpoint;
    bool past_has_records = false;
    for (const IntakeRecord& record : *records) {
      if (record.kind == IntakeRecord::Kind::kCheckpoint) {
        // Read() starts at the last checkpoint: it holds all before it.
        v1::WindowSummary summary;
        if (!summary.ParseFromString(record.payload)) {
          return absl::DataLossError("intake log: unreadable checkpoint");
        }
        if (open) {
          windower_->RestoreCheckpoint(std::move(summary));
        } else {
          past_checkpoint = std::move(summary);
        }
        continue;
      }
      past_has_records = true;
      if (record.kind == IntakeRecord::Kind::kJoinedLabels) {
        absl::StatusOr<std::vector<JoinedLabel>> joined =
            DecodeJoinedLabels(record.payload, record.arrival);
        if (!joined.ok()) return joined.status();
        if (open) {
          windower_->AddJoinedLabels(*joined);
        } else {
          for (const JoinedLabel& j : *joined) {
            past.AddJoinedLabel(j.event, j.labelled_at - j.predicted_at,
                                j.predicted_at < start);
          }
        }
        continue;
      }
      absl::StatusOr<std::vector<Event>> events = ReplayedEvents(record);
      if (!events.ok()) return events.status();
      replayed += events->size();
      if (open) {
        windower_->Add(*events);
      } else {
        for (const Event& e : *events) past.Add(e);
      }
    }
    if (!open) {
      const absl::Time aligned =
          absl::UnixEpoch() +
          absl::Floor(start - absl::UnixEpoch(), options_.window);
      v1::WindowSummary summary;
      if (!past_checkpoint.has_value()) {
        summary = past.Build();
      } else {
        summary = std::move(*past_checkpoint);
        if (past_has_records) {
          if (absl::Status s = MergeSummaries(&summary, past.Build());
              !s.ok()) {
            return s;
          }
        }
      }
      SpoolInOrder(ClosedWindow{start,
                                std::min(aligned + options_.window, current),
                                std::move(summary)});
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
