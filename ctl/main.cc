// aimsctl: command-line client of aims-collector. See --help.
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "common/base/cli.h"
#include "common/net/bearer_token.h"
#include "common/net/tls.h"
#include "ctl/ctl.h"
#include "grpcpp/grpcpp.h"

ABSL_FLAG(std::string, collector, "127.0.0.1:4317",
          "gRPC address (host:port) of the aims-collector to ask.");
ABSL_FLAG(bool, json, false, "Print JSON instead of a table.");
ABSL_FLAG(std::string, ca_file, "",
          "TLS: CA certificate (PEM) the collector's certificate must be "
          "signed by. Empty: plaintext (the collector allows it on loopback, "
          "or with --allow_plaintext).");
ABSL_FLAG(std::string, cert_file, "",
          "mTLS: this client's certificate (PEM), for a collector started "
          "with --tls_client_ca_file.");
ABSL_FLAG(std::string, key_file, "", "mTLS: the key of --cert_file (PEM).");
ABSL_FLAG(std::string, server_name, "",
          "TLS: name to verify in the collector's certificate instead of the "
          "host of --collector.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10),
          "Deadline of each call, e.g. 5s.");
ABSL_FLAG(std::string, model, "",
          "Model name (filter, or required by "
          "'windows').");
ABSL_FLAG(std::string, version, "",
          "Model version (filter, or required by "
          "'windows').");
ABSL_FLAG(std::string, environment, "",
          "Model environment (filter; "
          "'windows' defaults to 'default').");
ABSL_FLAG(absl::Duration, since, absl::Hours(1),
          "'windows': how far back to look, e.g. 15m.");
ABSL_FLAG(std::string, input, "",
          "'profile build': training data CSV with a header row.");
ABSL_FLAG(std::string, output, "",
          "'profile build': write the profile (JSON) here; 'report': write "
          "the report here instead of standard output.");
ABSL_FLAG(std::string, from, "",
          "'report': start of the period, RFC 3339 (2026-11-01T00:00:00Z), a "
          "date (2026-11-01, midnight UTC) or Unix seconds (default: 30 days "
          "before --to); 'nc list': only those opened since then.");
ABSL_FLAG(std::string, severity, "",
          "'nc list': only this severity and above (info, warning, "
          "critical).");
ABSL_FLAG(std::string, owner, "", "'nc list': only those of this owner.");
ABSL_FLAG(std::string, to, "",
          "'report': end of the period, as --from (default: now).");
ABSL_FLAG(absl::Duration, bucket, absl::ZeroDuration(),
          "'report': width of a trend bucket, e.g. 24h (default: 1h up to a "
          "2-day period, 24h up to 62 days, 168h beyond).");
ABSL_FLAG(std::string, format, "markdown",
          "'report': markdown, html or csv (one table, see --table).");
ABSL_FLAG(std::string, table, "results",
          "'report --format=csv': results, objectives, trend, open, "
          "nonconformities, plan or summary.");
ABSL_FLAG(bool, put, false, "'profile build': also store it at the collector.");
ABSL_FLAG(std::string, task, "binary",
          "'profile build': binary, multiclass or regression.");
ABSL_FLAG(std::string, positive_class, "1",
          "'profile build': the positive class.");
ABSL_FLAG(std::string, label_column, "label",
          "'profile build': column of the true label.");
ABSL_FLAG(std::string, score_column, "score",
          "'profile build': column of the positive-class score, if any.");
ABSL_FLAG(std::string, prediction_column, "prediction",
          "'profile build': column of the predicted class or value, if any.");
ABSL_FLAG(std::vector<std::string>, sensitive, {},
          "'profile build': comma-separated sensitive attribute columns (not "
          "features; their groups' base rates are profiled).");
ABSL_FLAG(std::vector<std::string>, ignore, {},
          "'profile build': comma-separated columns to leave out (e.g. ids).");
ABSL_FLAG(std::vector<std::string>, metric, {},
          "'metrics': comma-separated metric names to show, e.g. psi,accuracy "
          "(default: all).");
ABSL_FLAG(std::string, objective, "",
          "'objectives', 'nc list': only this objective id.");
ABSL_FLAG(
    std::vector<std::string>, stage, {},
    "'nc list': comma-separated stages (open, acknowledged, cause_analysed, "
    "action_recorded, effectiveness_reviewed, closed).");
ABSL_FLAG(
    std::string, comment, "",
    "'nc ack|analyse|act|review|close': what was done or found (the cause, "
    "the corrective action, the review's finding).");
ABSL_FLAG(std::string, actor, "",
          "'nc ...': the person making the step (default: $USER; with "
          "--token_file the collector records the token's name instead).");
ABSL_FLAG(std::string, token_file, "",
          "File holding the bearer token for a collector with "
          "--auth_tokens_file (default: $AIMS_TOKEN_FILE).");
ABSL_FLAG(std::string, name, "", "'token create': the token's name.");
ABSL_FLAG(std::string, role, "",
          "'token create': agent, viewer, compliance or admin.");
ABSL_FLAG(std::vector<std::string>, models, {},
          "'token create': models an agent token may report (default: *).");
ABSL_FLAG(uint64_t, from_index, 0, "'audit list': first record index.");
ABSL_FLAG(uint32_t, limit, 100, "'audit list': records to show.");
ABSL_FLAG(int, bins, 10, "'profile build': numeric bins (quantiles), 2..1000.");
ABSL_FLAG(int, top_k, 20,
          "'profile build': categories kept per feature, 1..1000.");
ABSL_FLAG(absl::Duration, step, absl::ZeroDuration(),
          "'windows': merge windows into buckets of this length (0: one row "
          "per window start).");

int main(int argc, char** argv) {
  std::vector<std::string> args = aims::ParseCommandLine(
      argc, argv,
      "ask an aims-collector about models, agents, metrics, objectives,\n"
      "nonconformities and the audit trail, and work nonconformities through\n"
      "their ISO/IEC 42001 clause 10.2 steps.\n\n"
      "Usage: aimsctl [--collector=HOST:PORT] [--json] COMMAND [flags]\n\n" +
          aims::ctl::CommandHelp() +
          "\nExit codes: 0 ok, 1 collector error or unreachable (or a refused "
          "nc step), 2 usage error, 3 audit trail broken.");
  aims::ctl::CtlOptions options;
  options.collector = absl::GetFlag(FLAGS_collector);
  std::string token_file = absl::GetFlag(FLAGS_token_file);
  if (token_file.empty() && std::getenv("AIMS_TOKEN_FILE") != nullptr)
    token_file = std::getenv("AIMS_TOKEN_FILE");
  {
    aims::TlsClientFiles tls;
    tls.ca_file = absl::GetFlag(FLAGS_ca_file);
    tls.cert_file = absl::GetFlag(FLAGS_cert_file);
    tls.key_file = absl::GetFlag(FLAGS_key_file);
    tls.server_name = absl::GetFlag(FLAGS_server_name);
    auto credentials = aims::ChannelCredentialsFor(tls, "");
    if (!credentials.ok()) {
      std::cerr << "aimsctl: " << credentials.status().message() << "\n";
      return 2;
    }
    grpc::ChannelArguments args;
    aims::ApplyServerName(tls, &args);
    std::string token;
    if (!token_file.empty()) {
      absl::StatusOr<std::string> read =
          aims::ReadTokenFile(token_file, "token_file");
      if (!read.ok()) {
        std::cerr << "aimsctl: " << read.status().message() << "\n";
        return 2;
      }
      token = *read;
    }
    options.channel =
        aims::WithBearerToken(options.collector, *credentials, args, token);
  }
  options.json = absl::GetFlag(FLAGS_json);
  options.timeout = absl::GetFlag(FLAGS_timeout);
  options.model = absl::GetFlag(FLAGS_model);
  options.version = absl::GetFlag(FLAGS_version);
  options.environment = absl::GetFlag(FLAGS_environment);
  options.since = absl::GetFlag(FLAGS_since);
  options.step = absl::GetFlag(FLAGS_step);
  options.input = absl::GetFlag(FLAGS_input);
  options.output = absl::GetFlag(FLAGS_output);
  options.put = absl::GetFlag(FLAGS_put);
  options.task = absl::GetFlag(FLAGS_task);
  options.positive_class = absl::GetFlag(FLAGS_positive_class);
  options.label_column = absl::GetFlag(FLAGS_label_column);
  options.score_column = absl::GetFlag(FLAGS_score_column);
  options.prediction_column = absl::GetFlag(FLAGS_prediction_column);
  options.sensitive = absl::GetFlag(FLAGS_sensitive);
  options.ignore = absl::GetFlag(FLAGS_ignore);
  options.bins = absl::GetFlag(FLAGS_bins);
  options.top_k = absl::GetFlag(FLAGS_top_k);
  options.metrics = absl::GetFlag(FLAGS_metric);
  options.objective = absl::GetFlag(FLAGS_objective);
  options.stages = absl::GetFlag(FLAGS_stage);
  options.comment = absl::GetFlag(FLAGS_comment);
  options.actor = absl::GetFlag(FLAGS_actor);
  // With a token the collector knows who acts; $USER could differ.
  if (options.actor.empty() && token_file.empty() &&
      std::getenv("USER") != nullptr)
    options.actor = std::getenv("USER");
  options.token_name = absl::GetFlag(FLAGS_name);
  options.token_role = absl::GetFlag(FLAGS_role);
  options.token_models = absl::GetFlag(FLAGS_models);
  options.from_index = absl::GetFlag(FLAGS_from_index);
  options.limit = absl::GetFlag(FLAGS_limit);
  options.from = absl::GetFlag(FLAGS_from);
  options.severity = absl::GetFlag(FLAGS_severity);
  options.owner = absl::GetFlag(FLAGS_owner);
  options.to = absl::GetFlag(FLAGS_to);
  options.bucket = absl::GetFlag(FLAGS_bucket);
  options.format = absl::GetFlag(FLAGS_format);
  options.table = absl::GetFlag(FLAGS_table);
  return aims::ctl::RunCommand(args, options, std::cout, std::cerr);
}
