// EtcdClient: the few etcd v3 calls the fleet mode needs, over etcd's own
// gRPC API (proto/etcd/rpc.proto): grant, keep alive and revoke a lease,
// put a key under a lease (or claim it in a transaction), list the keys
// under a prefix, watch a prefix.
// Every call but Watch has a deadline (`timeout`) and returns UNAVAILABLE or
// DEADLINE_EXCEEDED when etcd cannot be reached; no call retries.
//
// Thread-safety: safe (gRPC stubs are).
#ifndef AIMS_COLLECTOR_FLEET_ETCD_CLIENT_H_
#define AIMS_COLLECTOR_FLEET_ETCD_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "etcd/rpc.grpc.pb.h"

namespace aims::collector::fleet {

class EtcdClient {
 public:
  // `endpoint`: host:port of etcd's client URL (plaintext).
  explicit EtcdClient(const std::string& endpoint,
                      absl::Duration timeout = absl::Seconds(2));

  // A new lease of `ttl`; its id.
  absl::StatusOr<int64_t> GrantLease(absl::Duration ttl);
  // Renews lease `id` once; NOT_FOUND when it has expired or was revoked.
  absl::Status KeepAlive(int64_t id);
  absl::Status RevokeLease(int64_t id);
  // Puts `key` = `value`, deleted by etcd when `lease` (0: none) ends.
  absl::Status Put(const std::string& key, const std::string& value,
                   int64_t lease);
  // Claims `key` for `value` in one etcd transaction (Txn): when `key` does
  // not exist or already holds `value`, puts `key` = `value` under `lease`
  // (0: none; an existing key moves to `lease`) and returns `value`;
  // otherwise changes nothing and returns the value `key` holds (the
  // holder). An error only when the call fails.
  absl::StatusOr<std::string> PutIfAbsent(const std::string& key,
                                          const std::string& value,
                                          int64_t lease);
  // Every (key, value) whose key starts with `prefix`, in key order.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> List(
      const std::string& prefix);
  // Watches the keys under `prefix` from now on: `on_change` runs once the
  // watch is established (a change may have come just before) and after
  // each batch of changes. Blocks until the stream ends (etcd lost, or
  // `context`->TryCancel() from another thread); returns why.
  absl::Status Watch(const std::string& prefix, grpc::ClientContext* context,
                     const std::function<void()>& on_change);

 private:
  void Arm(grpc::ClientContext* ctx) const;

  const std::string endpoint_;
  const absl::Duration timeout_;
  std::unique_ptr<etcdserverpb::KV::Stub> kv_;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease_;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch_;
};

}  // namespace aims::collector::fleet

#endif  // AIMS_COLLECTOR_FLEET_ETCD_CLIENT_H_
