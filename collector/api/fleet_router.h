// FleetRouter: in fleet mode (docs/scale-out.md), which collector answers
// a call about a model. A model's owner holds the model's whole history
// (its peer caught it up when ownership moved, and it stores every new
// window) and its label join's records. The other collectors hold a
// replica's copy or nothing, and a copy may lag. So a query about one model
// (summaries, metrics, its profile), a proposed profile and posted labels
// go to the model's owner, and a listing (models, agents) is asked of
// every member and merged, each entry taken from its model's owner.
// Summaries are not merged across collectors: every window is held by two
// of them, and merging would count it twice.
//
// A forwarded call carries the metadata `aims-scope: collector`, which makes
// the receiver answer from its own storage (so a call is forwarded at most
// once, even while two collectors disagree about the member list). The
// HTTP API's `scope=collector` parameter asks the same of one collector.
//
// Thread-safety: safe. Stubs are created on first use and kept.
#ifndef AIMS_COLLECTOR_API_FLEET_ROUTER_H_
#define AIMS_COLLECTOR_API_FLEET_ROUTER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "aims/v1/labels.grpc.pb.h"
#include "aims/v1/nonconformity.grpc.pb.h"
#include "aims/v1/query.grpc.pb.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "grpcpp/grpcpp.h"

namespace aims::collector {

// Where a query is answered: across the fleet (routed), or from this
// collector's storage only.
enum class CallScope { kFleet, kCollector };

class FleetRouter {
 public:
  struct Options {
    std::string self;  // this collector's advertised address
    std::shared_ptr<grpc::ChannelCredentials> credentials;
    std::string token;  // sent with forwarded calls ("" for none)
    absl::Duration timeout = absl::Seconds(10);
  };
  // `owner_of(model name)`: the owner's address, "" when no member is
  // known. `members()`: every member's address, this one included.
  FleetRouter(Options options,
              std::function<std::string(const std::string&)> owner_of,
              std::function<std::vector<std::string>()> members);

  // The owner's address when another collector owns `model_name`; "" when
  // this one does or none is known (then the query is answered here).
  std::string OwnerElsewhere(const std::string& model_name) const;
  // The other members' addresses.
  std::vector<std::string> Others() const;
  const std::string& self() const { return options_.self; }
  // Stubs for `address`, valid for the router's life.
  v1::QueryService::Stub* Stub(const std::string& address);
  v1::LabelService::Stub* LabelStub(const std::string& address);
  v1::NonconformityService::Stub* NcStub(const std::string& address);
  // Sets the deadline and the metadata of a forwarded call.
  void Prepare(grpc::ClientContext* context) const;
  // The answer `s` of a call forwarded to `address` (`role`: "the model's
  // owner", "the record's holder"), its message naming them. A collector
  // that cannot be reached, times out or refuses this collector's fleet
  // token is UNAVAILABLE (the caller retries); other codes are the
  // answer's own (a bad field, a record's order).
  static absl::Status Answer(const grpc::Status& s, absl::string_view role,
                             const std::string& address);

  // Asks every other member at once (a thread each) by `call` on the stub
  // `stub_of` gives, as a forwarded call, so a silent member costs one
  // deadline; the answers by member, without the members that did not
  // answer (each logged, and added to `silent` when given).
  template <typename Stub, typename Request, typename Response>
  std::vector<std::pair<std::string, Response>> AskOthers(
      Stub* (FleetRouter::*stub_of)(const std::string&),
      grpc::Status (Stub::*call)(grpc::ClientContext*, const Request&,
                                 Response*),
      const Request& request,
      google::protobuf::RepeatedPtrField<std::string>* silent = nullptr) {
    const std::vector<std::string> others = Others();
    std::vector<Response> responses(others.size());
    std::vector<grpc::Status> statuses(others.size());
    std::vector<std::thread> calls;
    calls.reserve(others.size());
    for (size_t i = 0; i < others.size(); ++i) {
      calls.emplace_back([&, i] {
        grpc::ClientContext context;
        Prepare(&context);
        statuses[i] = ((this->*stub_of)(others[i])->*call)(&context, request,
                                                           &responses[i]);
      });
    }
    for (std::thread& t : calls) t.join();
    std::vector<std::pair<std::string, Response>> answers;
    for (size_t i = 0; i < others.size(); ++i) {
      if (!statuses[i].ok()) {
        NoteSilent(others[i], statuses[i]);
        if (silent != nullptr) silent->Add(std::string(others[i]));
        continue;
      }
      answers.emplace_back(others[i], std::move(responses[i]));
    }
    return answers;
  }

  // kCollector when a call asks for this collector's storage only.
  static CallScope ScopeOf(const grpc::ServerContextBase& context);

 private:
  // Logs that `member` did not answer a listing.
  static void NoteSilent(const std::string& member, const grpc::Status& s);

  const Options options_;
  const std::function<std::string(const std::string&)> owner_of_;
  const std::function<std::vector<std::string>()> members_;
  std::shared_ptr<grpc::Channel> Channel(const std::string& address)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Mutex mu_;
  // Channels by address, and a stub of each service on it.
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<v1::QueryService::Stub>> stubs_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<v1::LabelService::Stub>> label_stubs_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<v1::NonconformityService::Stub>>
      nc_stubs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_API_FLEET_ROUTER_H_
