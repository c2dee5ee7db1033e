#include "collector/ingest/durable_writer.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "collector/compliance/audit_trail.h"

namespace aims::collector {
namespace {

// A report's share of the queue's byte bound: the report and the join
// records and labels it carries.
size_t QueuedBytes(const EncodedReport& report) {
  return report.bytes.size() + report.label_bytes.size();
}

}  // namespace

DurableWriter::DurableWriter(Storage* storage, const Clock* clock,
                             size_t capacity, size_t max_batch,
                             AuditTrail* audit, size_t max_queued_bytes)
    : storage_(storage),
      audit_(audit),
      clock_(clock),
      capacity_(capacity),
      max_batch_(max_batch),
      max_queued_bytes_(max_queued_bytes),
      thread_([this] { Run(); }) {}

DurableWriter::~DurableWriter() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

bool DurableWriter::Submit(Item item) {
  const size_t bytes = QueuedBytes(item.report);
  absl::MutexLock lock(&mu_);
  if (stopping_ || queue_.size() >= capacity_) return false;
  // Over the byte bound (one item alone may exceed it).
  if (!queue_.empty() && (queued_bytes_ > max_queued_bytes_ ||
                          bytes > max_queued_bytes_ - queued_bytes_)) {
    return false;
  }
  queued_bytes_ += bytes;
  queue_.push_back(std::move(item));
  return true;
}

size_t DurableWriter::queued_bytes() const {
  absl::MutexLock lock(&mu_);
  return queued_bytes_;
}

bool DurableWriter::SubmitHello(
    v1::Hello hello, Done done,
    std::function<bool(const std::string&)> connected) {
  Item item;
  item.kind = Item::Kind::kHello;
  item.hello = std::move(hello);
  item.connected = std::move(connected);
  item.done = std::move(done);
  return Submit(std::move(item));
}

bool DurableWriter::SubmitReport(EncodedReport report, Done done) {
  Item item;
  item.report = std::move(report);
  item.done = std::move(done);
  return Submit(std::move(item));
}

bool DurableWriter::SubmitGoodbye(std::string agent_id, std::string reason,
                                  Done done) {
  Item item;
  item.kind = Item::Kind::kGoodbye;
  item.agent_id = std::move(agent_id);
  item.reason = std::move(reason);
  item.done = std::move(done);
  return Submit(std::move(item));
}

bool DurableWriter::SubmitGap(v1::GapNotice gap, Done done) {
  Item item;
  item.kind = Item::Kind::kGap;
  item.gap = std::move(gap);
  item.done = std::move(done);
  return Submit(std::move(item));
}

size_t DurableWriter::depth() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

WriteResult DurableWriter::WriteHello(const Item& item, absl::Time now) {
  const v1::Hello& h = item.hello;
  const std::string model = absl::StrCat(
      h.model().name(), "/", h.model().version(), "/", h.model().environment());
  uint32_t slot = 0;
  std::vector<std::string> replaced;
  // A backfill is no replica: without `connected` it takes only a slot that
  // no agent which has not left holds, so it never replaces a live agent
  // that is reconnecting.
  absl::StatusOr<uint64_t> seq =
      h.backfill() ? storage_->RegisterAgent(h, now)
                   : storage_->RegisterAgentInSlot(h, now, item.connected,
                                                   &slot, &replaced);
  WriteResult result;
  result.status = seq.status();
  if (seq.ok() && audit_ != nullptr) {
    for (const std::string& old : replaced) {
      // On record: the slot's silence is the new agent's from now on.
      result.status.Update(
          audit_->Append({"agent_replaced",
                          old,
                          {{"agent", old},
                           {"model", model},
                           {"slot", absl::StrCat(slot)},
                           {"replaced_by", h.agent().agent_id()}}}));
    }
    result.status.Update(
        audit_->Append({"agent_connect",
                        h.agent().agent_id(),
                        {{"agent", h.agent().agent_id()},
                         {"pod", h.agent().pod()},
                         {"model", model},
                         {"slot", absl::StrCat(slot)},
                         {"durable_sequence", absl::StrCat(*seq)}}}));
  }
  if (absl::IsPermissionDenied(seq.status()) && audit_ != nullptr) {
    // On record: someone tried to speak for another model's agent.
    (void)audit_->Append({"agent_refused",
                          h.agent().agent_id(),
                          {{"agent", h.agent().agent_id()},
                           {"pod", h.agent().pod()},
                           {"model", model},
                           {"reason", std::string(seq.status().message())}}});
  }
  if (seq.ok() && result.status.ok()) {
    result.durable_sequence = *seq;
    result.slot = slot;
    absl::StatusOr<v1::ReferenceProfile> profile =
        storage_->GetProfile(h.model());
    if (profile.ok()) result.profile = std::move(*profile);
  }
  return result;
}

WriteResult DurableWriter::WriteGoodbye(const Item& item, absl::Time now) {
  WriteResult result;
  result.status = storage_->MarkAgentLeft(item.agent_id, "deregistered", now);
  if (result.status.ok() && audit_ != nullptr) {
    result.status =
        audit_->Append({"agent_deregistered",
                        item.agent_id,
                        {{"agent", item.agent_id}, {"reason", item.reason}}});
  }
  return result;
}

void DurableWriter::Run() {
  std::vector<Item> batch;
  for (;;) {
    batch.clear();
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !queue_.empty() || stopping_;
      };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping and drained
      // One hello or gap alone, or a run of consecutive reports.
      if (queue_.front().kind != Item::Kind::kReport) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      } else {
        while (!queue_.empty() && queue_.front().kind == Item::Kind::kReport &&
               batch.size() < max_batch_) {
          queued_bytes_ -= QueuedBytes(queue_.front().report);
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
    }
    const absl::Time now = clock_->Now();
    if (batch.front().kind == Item::Kind::kHello) {
      batch.front().done(WriteHello(batch.front(), now));
      continue;
    }
    if (batch.front().kind == Item::Kind::kGoodbye) {
      batch.front().done(WriteGoodbye(batch.front(), now));
      continue;
    }
    if (batch.front().kind == Item::Kind::kGap) {
      absl::StatusOr<uint64_t> missing =
          storage_->RecordGap(batch.front().gap, now);
      WriteResult result;
      result.status = missing.status();
      if (missing.ok() && audit_ != nullptr) {
        const v1::GapNotice& g = batch.front().gap;
        result.status = audit_->Append(
            {"gap",
             g.agent_id(),
             {{"agent", g.agent_id()},
              {"first_sequence", absl::StrCat(g.first_sequence())},
              {"last_sequence", absl::StrCat(g.last_sequence())},
              {"reason", g.reason()},
              {"events", absl::StrCat(g.event_count())},
              {"missing", absl::StrCat(*missing)}}});
      }
      if (missing.ok()) result.missing = *missing;
      batch.front().done(result);
      continue;
    }
    std::vector<EncodedReport*> reports;
    reports.reserve(batch.size());
    for (Item& item : batch) reports.push_back(&item.report);
    std::vector<WriteOutcome> outcomes;
    absl::Status status =
        join_ != nullptr
            ? join_->WriteReports(reports, now, &outcomes)
            : storage_->WriteEncodedReports(std::vector<const EncodedReport*>(
                                                reports.begin(), reports.end()),
                                            now, &outcomes);
    if (on_stored_ && status.ok()) {
      std::vector<const EncodedReport*> stored;
      for (size_t i = 0; i < batch.size(); ++i) {
        if (outcomes[i] == WriteOutcome::kStored) stored.push_back(reports[i]);
      }
      if (!stored.empty()) on_stored_(stored);
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      WriteResult result;
      result.status = status;
      result.duplicate = status.ok() && outcomes[i] == WriteOutcome::kDuplicate;
      result.expired = status.ok() && outcomes[i] == WriteOutcome::kExpired;
      batch[i].done(result);
    }
  }
}

}  // namespace aims::collector
