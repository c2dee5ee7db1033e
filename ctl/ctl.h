// aimsctl's commands as a library, so tests run them in-process against a
// real collector. Each command talks gRPC to one collector and prints a
// table (default) or JSON (--json, one object per answer).
//
// Thread-safety: RunCommand is reentrant.
#ifndef AIMS_CTL_CTL_H_
#define AIMS_CTL_CTL_H_

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace aims::ctl {

struct CtlOptions {
  std::string collector = "127.0.0.1:4317";
  // Channel to the collector (TLS from --ca_file etc.); null: plaintext to
  // `collector`.
  std::shared_ptr<grpc::Channel> channel;
  bool json = false;
  absl::Duration timeout = absl::Seconds(10);
  // Model selection for commands that take one.
  std::string model;
  std::string version;
  std::string environment;
  // Range for `windows`: the last `since`, merged per `step` (0: per report).
  absl::Duration since = absl::Hours(1);
  absl::Duration step = absl::ZeroDuration();
  // `profile build`.
  std::string input;
  std::string output;
  std::string task = "binary";
  std::string positive_class = "1";
  std::string label_column = "label";
  std::string score_column = "score";
  std::string prediction_column = "prediction";
  std::vector<std::string> sensitive;
  std::vector<std::string> ignore;
  int bins = 10;
  int top_k = 20;
  bool put = false;
  // `metrics`: names to show (empty: all).
  std::vector<std::string> metrics;
  // Compliance commands.
  std::string objective;
  std::vector<std::string> stages;
  std::string comment;
  std::string actor;
  // `nc list`: minimum severity (info, warning, critical) and owner.
  std::string severity;
  std::string owner;
  uint64_t from_index = 0;
  uint32_t limit = 100;
  // `report`: period as RFC 3339 (or a date, 2026-11-01) or Unix seconds;
  // empty: the collector's default (the last 30 days up to now).
  // `nc list`: `from` is the earliest opening time.
  std::string from;
  std::string to;
  absl::Duration bucket = absl::ZeroDuration();  // 0: automatic
  std::string format = "markdown";               // markdown | html | csv
  std::string table = "results";                 // csv: which table
  // `token create`.
  std::string token_name;
  std::string token_role;
  std::vector<std::string> token_models;
};

// The text of `aimsctl --help`'s command list.
std::string CommandHelp();

// Runs `args[0]` (models | agents | windows | profile build|put|show).
// Returns the process exit code:
// 0 success, 1 the collector failed or is unreachable, 2 usage error.
int RunCommand(const std::vector<std::string>& args, const CtlOptions& options,
               std::ostream& out, std::ostream& err);

}  // namespace aims::ctl

#endif  // AIMS_CTL_CTL_H_
