#include "collector/fleet/fleet.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "collector/fleet/rendezvous.h"
#include "common/base/log.h"
#include "prometheus/family.h"

namespace aims::collector::fleet {
namespace {

prometheus::Gauge& NewGauge(prometheus::Registry& r, const std::string& name,
                            const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}

prometheus::Counter& NewCounter(prometheus::Registry& r,
                                const std::string& name,
                                const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}

}  // namespace

Fleet::Fleet(FleetOptions options, prometheus::Registry& registry)
    : options_(std::move(options)),
      etcd_(options_.etcd),
      members_gauge_(NewGauge(registry, "aims_fleet_members",
                              "Collectors in the fleet's member list.")),
      owned_gauge_(NewGauge(registry, "aims_fleet_models_owned",
                            "Models seen here that this collector owns.")),
      moves_(NewCounter(registry, "aims_fleet_ownership_moves_total",
                        "Models seen here whose owner changed.")),
      redirects_(NewCounter(registry, "aims_fleet_redirects_total",
                            "Hellos answered with Redirect to the owner.")),
      etcd_errors_(NewCounter(registry, "aims_fleet_etcd_errors_total",
                              "Failed calls to etcd.")) {}

Fleet::~Fleet() { Stop(); }

absl::Status Fleet::ClaimId(int64_t lease) {
  if (options_.collector_id.empty()) return absl::OkStatus();
  const std::string key = options_.id_prefix + options_.collector_id;
  absl::StatusOr<std::string> holder =
      etcd_.PutIfAbsent(key, options_.advertise, lease);
  if (!holder.ok()) return holder.status();
  if (*holder == options_.advertise) return absl::OkStatus();
  return absl::AlreadyExistsError(absl::StrCat(
      "collector id \"", options_.collector_id,
      "\" is already used by the collector at ", *holder, " (etcd key ", key,
      ", until that collector's lease ends): nonconformity record ids would "
      "clash; give each collector of the fleet its own --collector_id"));
}

absl::Status Fleet::Register() {
  const absl::Time sent = absl::Now();
  absl::StatusOr<int64_t> lease = etcd_.GrantLease(options_.lease_ttl);
  if (!lease.ok()) return lease.status();
  if (absl::Status s = ClaimId(*lease); !s.ok()) {
    (void)etcd_.RevokeLease(*lease);  // nothing under it
    return s;
  }
  if (absl::Status s = etcd_.Put(options_.prefix + options_.advertise,
                                 options_.advertise, *lease);
      !s.ok()) {
    return s;
  }
  {
    absl::MutexLock lock(&mu_);
    lease_ = *lease;
  }
  NoteRenewal(sent);
  return absl::OkStatus();
}

absl::Status Fleet::Start() {
  if (absl::Status s = Register(); !s.ok()) return s;
  absl::Time next_renewal = absl::Now() + options_.lease_ttl / 3;
  Round(&next_renewal);
  LogInfo("joined fleet", {{"etcd", options_.etcd},
                           {"advertise", options_.advertise},
                           {"members", members().size()}});
  thread_ = std::thread([this] { Run(); });
  watcher_ = std::thread([this] { WatchMembers(); });
  return absl::OkStatus();
}

void Fleet::WatchMembers() {
  for (;;) {
    grpc::ClientContext context;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      watch_context_ = &context;
    }
    const absl::Status s = etcd_.Watch(options_.prefix, &context, [this] {
      absl::MutexLock lock(&mu_);
      changed_ = true;
    });
    absl::MutexLock lock(&mu_);
    watch_context_ = nullptr;
    if (stopping_) return;
    etcd_errors_.Increment();
    LogWarn(
        "fleet member watch ended; reading the list every refresh until "
        "it is back",
        {{"error", s.message()}});
    auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_;
    };
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping), absl::Seconds(1)))
      return;
  }
}

void Fleet::Stop() {
  int64_t lease = 0;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    lease = lease_;
    if (watch_context_ != nullptr) watch_context_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
  if (watcher_.joinable()) watcher_.join();
  if (lease != 0) (void)etcd_.RevokeLease(lease);
}

void Fleet::Run() {
  absl::Time next_renewal = absl::Now() + options_.lease_ttl / 3;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || changed_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&woken), options_.refresh);
      if (stopping_) return;
      changed_ = false;
    }
    Round(&next_renewal);
  }
}

void Fleet::Round(absl::Time* next_renewal) {
  if (absl::Now() >= *next_renewal) {
    int64_t lease = 0;
    {
      absl::MutexLock lock(&mu_);
      lease = lease_;
    }
    const absl::Time sent = absl::Now();
    absl::Status s = etcd_.KeepAlive(lease);
    if (absl::IsNotFound(s)) {
      LogWarn("fleet lease lost; registering again", {{"error", s.message()}});
      s = Register();
    }
    if (s.ok()) {
      NoteRenewal(sent);
      *next_renewal = absl::Now() + options_.lease_ttl / 3;
    } else if (absl::IsAlreadyExists(s)) {
      // Not an etcd error: the id went to another collector while this one's
      // lease was lost. Serving on would clash record ids: stay fenced.
      LogError(
          "fleet collector id taken by another collector; staying fenced",
          {{"collector_id", options_.collector_id}, {"error", s.message()}});
    } else {
      etcd_errors_.Increment();
      LogWarn("cannot renew fleet lease", {{"error", s.message()}});
    }
  }
  UpdateFence(absl::Now());
  auto listed = etcd_.List(options_.prefix);
  if (!listed.ok()) {
    etcd_errors_.Increment();
    LogWarn("cannot read fleet members",
            {{"error", listed.status().message()}});
    return;
  }
  std::vector<std::string> members;
  members.reserve(listed->size());
  for (auto& [key, value] : *listed) members.push_back(std::move(value));
  SetMembers(std::move(members));
}

void Fleet::SetMembers(std::vector<std::string> members) {
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  {
    absl::MutexLock lock(&mu_);
    if (members == members_) return;
    LogInfo("fleet members changed",
            {{"before", members_.size()}, {"after", members.size()}});
    members_ = std::move(members);
    members_gauge_.Set(static_cast<double>(members_.size()));
    RecountLocked();
  }
  if (on_members_changed_) on_members_changed_();
}

void Fleet::OnMembersChanged(std::function<void()> callback) {
  on_members_changed_ = std::move(callback);
}

bool Fleet::Owns(absl::string_view model) const {
  absl::MutexLock lock(&mu_);
  if (fenced_) return false;
  const std::string owner = RendezvousOwner(model, members_);
  return owner.empty() || owner == options_.advertise;
}

void Fleet::RecountLocked() {
  int owned = 0;
  for (auto& [model, owner] : models_) {
    std::string now = RendezvousOwner(model, members_);
    if (now != owner) {
      moves_.Increment();
      owner = std::move(now);
    }
    if (owner == options_.advertise && !fenced_) ++owned;
  }
  owned_gauge_.Set(owned);
}

std::vector<std::string> Fleet::members() const {
  absl::MutexLock lock(&mu_);
  return members_;
}

std::string Fleet::OwnerOf(absl::string_view model) const {
  absl::MutexLock lock(&mu_);
  return RendezvousOwner(model, members_);
}

std::string Fleet::RouteFor(absl::string_view model) const {
  absl::MutexLock lock(&mu_);
  return fenced_ ? OwnerAmongOthersLocked(model)
                 : RendezvousOwner(model, members_);
}

std::string Fleet::OwnerAmongOthersLocked(absl::string_view model) const {
  std::vector<std::string> others;
  for (const std::string& m : members_)
    if (m != options_.advertise) others.push_back(m);
  return RendezvousOwner(model, others);
}

void Fleet::NoteRenewal(absl::Time sent) {
  absl::MutexLock lock(&mu_);
  // The lease runs from when etcd got the renewal, which is after `sent`.
  if (renewed_at_ == absl::InfiniteFuture() || sent > renewed_at_)
    renewed_at_ = sent;
}

void Fleet::UpdateFence(absl::Time now) {
  {
    absl::MutexLock lock(&mu_);
    // Fenced a refresh before the lease may run out, so that the others,
    // which need up to a refresh to see the lease gone, never overlap.
    const bool fenced =
        renewed_at_ != absl::InfiniteFuture() &&
        now - renewed_at_ >= options_.lease_ttl - options_.refresh;
    if (fenced == fenced_) return;
    fenced_ = fenced;
    LogWarn(fenced ? "fleet lease may have expired: fenced, serving no model"
                   : "fleet lease renewed: fence lifted",
            {{"renewed_at", absl::FormatTime(renewed_at_)}});
    RecountLocked();
  }
  if (on_members_changed_) on_members_changed_();
}

bool Fleet::fenced() const {
  absl::MutexLock lock(&mu_);
  return fenced_;
}

std::string Fleet::PeerFor(absl::string_view model) const {
  absl::MutexLock lock(&mu_);
  if (fenced_ || members_.size() < 2) return "";
  const std::vector<std::string> order = RendezvousOrder(model, members_);
  if (order[0] == options_.advertise) return order[1];
  if (order[1] == options_.advertise) return order[0];
  return "";
}

std::vector<std::string> Fleet::LabelHoldersFor(absl::string_view model) const {
  absl::MutexLock lock(&mu_);
  if (fenced_ || members_.size() < 2) return {};
  const std::vector<std::string> order = RendezvousOrder(model, members_);
  if (order[0] == options_.advertise) return {order[1]};
  if (order[1] == options_.advertise) return {order[0]};
  return {order[0], order[1]};
}

std::string Fleet::RedirectFor(absl::string_view model) {
  absl::MutexLock lock(&mu_);
  std::string owner = RendezvousOwner(model, members_);
  if (fenced_) {
    // Whoever owns the model once this collector's lease is gone.
    owner = OwnerAmongOthersLocked(model);
    if (!owner.empty()) redirects_.Increment();
    return owner;
  }
  auto [it, inserted] = models_.try_emplace(model, owner);
  if (inserted) {
    if (owner == options_.advertise) owned_gauge_.Increment();
    LogInfo("fleet model seen", {{"model", model}, {"owner", owner}});
  }
  if (owner.empty() || owner == options_.advertise) return "";
  redirects_.Increment();
  return owner;
}

}  // namespace aims::collector::fleet
