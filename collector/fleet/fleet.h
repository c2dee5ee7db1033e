// Fleet: this collector's membership in a fleet of collectors and the
// ownership of models among them (docs/scale-out.md).
//
// Start() takes a lease of `lease_ttl` in etcd, claims this collector's id
// under it (below) and puts <prefix><advertise> = advertise under it; a
// thread renews the lease every lease_ttl/3 and reads the member list every
// `refresh`, and at once when an etcd Watch of the prefix (a second thread,
// re-established after a second when it ends) reports a change. A collector
// that dies stops renewing, etcd deletes its key when the lease expires, and
// the survivors drop it from their lists as the watch reports the deletion (at
// their next read without a watch). Each model (by name: all versions and
// environments of a model stay together) belongs to RendezvousOwner(name,
// members), so every collector that read the same list names the same owner.
//
// Collector ids: nonconformity record ids name the collector
// (NC-<collector_id>-N), so no two live collectors may share an id. Each
// claims <id_prefix><collector_id> = advertise in one etcd transaction
// (EtcdClient::PutIfAbsent) before it puts its member key. Held by another
// advertise address, Start() fails with ALREADY_EXISTS naming the id, the
// holder's address and --collector_id, and puts no member key; held by the
// same address (a restart, its key still there from its previous life), the
// claim succeeds and the key moves to the new lease. An empty collector_id
// claims nothing.
//
// When etcd cannot be reached the last list read stays in force (and
// aims_fleet_etcd_errors_total counts); a lease found expired is taken
// again and the id claimed again under it: should another collector have
// taken the id meanwhile, the renewal fails (logged as an error, not
// counted as an etcd error) and is tried again each refresh, so the
// collector stays fenced and out of the member list until the id is free.
// Fencing: once no renewal has succeeded for lease_ttl - refresh
// after it was sent (the lease may have expired, so the others may have
// moved this collector's models), the collector is fenced: it owns nothing
// (Owns() is false, so it evaluates nothing), redirects every Hello to the
// owner among the other members, and the OnMembersChanged callback runs so
// that its streams end; the next successful renewal lifts the fence.
//
// Thread-safety: safe. SetMembers() is public so that tests can drive the
// ownership bookkeeping without etcd.
#ifndef AIMS_COLLECTOR_FLEET_FLEET_H_
#define AIMS_COLLECTOR_FLEET_FLEET_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "collector/fleet/etcd_client.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace aims::collector::fleet {

struct FleetOptions {
  std::string etcd;       // host:port of etcd (--fleet_etcd)
  std::string advertise;  // how agents reach this collector (--fleet_advertise)
  std::string collector_id;  // --collector_id, unique in the fleet; empty: none
  absl::Duration lease_ttl = absl::Seconds(10);
  absl::Duration refresh = absl::Seconds(1);
  std::string prefix = "/aims/fleet/members/";
  std::string id_prefix = "/aims/fleet/ids/";  // <id_prefix><collector_id>
};

class Fleet {
 public:
  Fleet(FleetOptions options, prometheus::Registry& registry);
  ~Fleet();  // Stop()

  // Registers this collector (claiming its id) and reads the member list
  // once, then keeps both up to date on a thread. Fails when etcd cannot be
  // reached, and with ALREADY_EXISTS when another collector holds the id.
  absl::Status Start();
  // Revokes the lease (the others see this collector gone at their next
  // read) and stops the thread. Idempotent.
  void Stop();

  // The advertised address of `model`'s owner; empty with no members.
  std::string OwnerOf(absl::string_view model) const;
  // Where calls about `model` go: its owner, or while this collector is
  // fenced the owner among the other members (as RedirectFor, counting
  // nothing); empty with no members.
  std::string RouteFor(absl::string_view model) const;
  // Empty when this collector serves `model` (it owns it, or no member is
  // known); otherwise the owner's address, counted as a redirect. Remembers
  // the model for aims_fleet_models_owned and ownership moves.
  std::string RedirectFor(absl::string_view model);

  // Whether this collector serves `model` now (owns it, or no member is
  // known) and is not fenced. Counts nothing.
  bool Owns(absl::string_view model) const;
  // The collector this one exchanges `model`'s data with: the replica when
  // this collector is the owner, the owner when it is the replica (so a
  // returning owner catches up from the replica); empty otherwise, when
  // fenced, or with fewer than two members.
  std::string PeerFor(absl::string_view model) const;
  // Where labels posted here for `model` are copied: its peer (PeerFor)
  // when this collector is one of the model's top two, else both of them
  // (the model moved away for good while the labels waited); empty when
  // fenced or with fewer than two members.
  std::vector<std::string> LabelHoldersFor(absl::string_view model) const;
  bool fenced() const;
  // Fencing bookkeeping, public for tests: a renewal sent at `sent`
  // succeeded; the fence as of `now` (runs the callback when it changes).
  void NoteRenewal(absl::Time sent);
  void UpdateFence(absl::Time now);

  // Called (on the fleet's thread, no lock held) after the member list
  // changed. Set before Start().
  void OnMembersChanged(std::function<void()> callback);

  // Replaces the member list (sorted, deduplicated here) and recounts the
  // known models' owners: each model whose owner changed is a move. Calls
  // the OnMembersChanged callback when the list changed.
  void SetMembers(std::vector<std::string> members);
  std::vector<std::string> members() const;
  const std::string& advertise() const { return options_.advertise; }

 private:
  void Run();
  // One round: renews the lease when due (retaking it when lost) and reads
  // the member list.
  void Round(absl::Time* next_renewal);
  // Takes a new lease, claims the id and puts the member key under it.
  absl::Status Register();
  // Claims <id_prefix><collector_id> under `lease`: ALREADY_EXISTS when
  // another address holds it.
  absl::Status ClaimId(int64_t lease);
  // The watch thread: keeps a Watch of the member prefix open, setting
  // changed_ on each change.
  void WatchMembers();
  void RecountLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The owner of `model` were this collector gone.
  std::string OwnerAmongOthersLocked(absl::string_view model) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const FleetOptions options_;
  EtcdClient etcd_;
  prometheus::Gauge& members_gauge_;
  prometheus::Gauge& owned_gauge_;
  prometheus::Counter& moves_;
  prometheus::Counter& redirects_;
  prometheus::Counter& etcd_errors_;

  mutable absl::Mutex mu_;
  std::vector<std::string> members_ ABSL_GUARDED_BY(mu_);
  // Every model this collector was asked about -> its owner now.
  absl::flat_hash_map<std::string, std::string> models_ ABSL_GUARDED_BY(mu_);
  int64_t lease_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time renewed_at_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  bool fenced_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The watch reported a change not read yet.
  bool changed_ ABSL_GUARDED_BY(mu_) = false;
  // The open watch's call, cancelled by Stop().
  grpc::ClientContext* watch_context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::function<void()> on_members_changed_;  // set before Start
  std::thread thread_;
  std::thread watcher_;
};

}  // namespace aims::collector::fleet

#endif  // AIMS_COLLECTOR_FLEET_FLEET_H_
