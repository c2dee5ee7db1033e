// aimsctl backfill with the real binaries on loopback: row errors name the
// file's line and field, a file loaded twice counts once, a backfilled file
// (a minute, a day in 10-minute windows) gives the collector the same
// metrics as the same events sent live through a real agent, backfilled
// predictions join labels that come later, rows later than --lateness go
// in one more report of their window, and a terminal gets a progress bar.
#include <fstream>
#include <regex>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/testing/test_util.h"

namespace aims {
namespace {

using testing::RunCommand;
using testing::Subprocess;
using testing::WaitFor;
using testing::WaitForPort;

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// `n` binary events over `span` from `t0`, about 85 % right, as JSON lines.
std::string Events(int n, absl::Time t0,
                   absl::Duration span = absl::Minutes(1)) {
  std::string body;
  for (int i = 0; i < n; ++i) {
    const int predicted = i % 2;
    const int label = i % 20 < 17 ? predicted : 1 - predicted;
    absl::StrAppend(&body, R"({"prediction_id":"p)", i, R"(","timestamp":")",
                    Rfc3339(t0 + span * i / n), R"(","prediction":)", predicted,
                    R"(,"label":)", label, R"(,"features":{"age":)",
                    20 + i % 50, R"(,"segment":")", (i % 3 == 0 ? "a" : "b"),
                    "\"}}\n");
  }
  return body;
}

// The same events as CSV: event fields, features, one attribute.
std::string EventsCsv(int n, absl::Time t0) {
  std::string body =
      "prediction_id,timestamp,prediction,label,age,segment,attributes."
      "region\n";
  for (int i = 0; i < n; ++i) {
    const int predicted = i % 2;
    const int label = i % 20 < 17 ? predicted : 1 - predicted;
    absl::StrAppend(&body, "p", i, ",",
                    Rfc3339(t0 + absl::Milliseconds(60'000LL * i / n)), ",",
                    predicted, ",", label, ",", 20 + i % 50, ",",
                    (i % 3 == 0 ? "a" : "b"), ",", (i % 2 ? "eu" : "us"), "\n");
  }
  return body;
}

class BackfillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc_port_ = testing::FreePort();
    std::ofstream(dir_.File("plan.yaml")) << R"(agent_window: 1s
coverage: {enabled: false}
defaults: {window: 5s, evaluation_interval: 1s, decision: interval}
objectives:
  - {id: accuracy, metric: accuracy, comparator: ">=", threshold: 0.5}
)";
    collector_ = std::make_unique<Subprocess>(
        std::vector<std::string>{
            AIMS_COLLECTOR_BIN,
            absl::StrCat("--grpc_listen=127.0.0.1:", grpc_port_),
            "--http_listen=127.0.0.1:0", "--data_dir=" + dir_.File("collector"),
            "--plan=" + dir_.File("plan.yaml"),
            "--ports_file=" + dir_.File("collector.ports")},
        dir_.File("collector.log"));
    http_port_ = WaitForPort(dir_.File("collector.ports"), "http");
    ASSERT_NE(http_port_, 0) << testing::ReadFile(dir_.File("collector.log"));
  }

  int Backfill(const std::string& version, const std::string& file,
               std::string* out, std::string* err,
               const std::string& window = "10s") {
    return RunCommand(
        {AIMS_CTL_BIN, absl::StrCat("--collector=127.0.0.1:", grpc_port_),
         "backfill", "--model=credit", "--version=" + version,
         "--environment=it", "--input=" + file, "--window=" + window},
        out, err);
  }

  // /v1/metrics of one version over [from, to), as one point (or one per
  // `step`).
  std::string Metrics(const std::string& version, absl::Time from,
                      absl::Time to, const std::string& step = "") {
    httplib::Client api("127.0.0.1", http_port_);
    auto res = api.Get(
        absl::StrCat("/v1/metrics?name=credit&environment=it&version=", version,
                     "&from=", Rfc3339(from), "&to=", Rfc3339(to),
                     step.empty() ? "" : "&step=", step));
    return res && res->status == 200 ? res->body : "";
  }

  testing::TempDir dir_;
  int grpc_port_ = 0;
  int http_port_ = 0;
  std::unique_ptr<Subprocess> collector_;
};

// The accuracy's sample size in a /v1/metrics answer; -1 when absent.
long AccuracySampleSize(const std::string& body) {
  std::smatch m;
  static const std::regex re(
      R"re("metric":"accuracy"[^}]*"sample_size":"?([0-9]+))re");
  return std::regex_search(body, m, re) ? std::stol(m[1]) : -1;
}

// The accuracy's value in a /v1/metrics answer; -1 when absent.
double AccuracyValue(const std::string& body) {
  std::smatch m;
  static const std::regex re(
      R"re("metric":"accuracy"[^}]*"value":"?([0-9.eE+-]+))re");
  return std::regex_search(body, m, re) ? std::stod(m[1]) : -1;
}

TEST_F(BackfillTest, RowErrorsNameLineAndField) {
  const absl::Time t0 = absl::FromUnixSeconds(
      absl::ToUnixSeconds(absl::Now() - absl::Hours(30)) / 60 * 60);
  std::string body = Events(1, t0);
  body += R"({"prediction":{"x":1},"timestamp":")" + Rfc3339(t0) + "\"}\n";
  body += "\n";  // blank lines count as lines, not as rows
  body += R"({"prediction":1})"
          "\n";
  body += "not json\n";
  // An unlabelled prediction twice in its window: the repeat is refused.
  const std::string unlabelled =
      R"({"prediction_id":"u1","prediction":1,"timestamp":")" + Rfc3339(t0) +
      "\"}\n";
  body += unlabelled + unlabelled;
  std::ofstream(dir_.File("rows.jsonl")) << body;
  std::string out, err;
  // Rejected rows: the good ones are loaded, the exit code is 1.
  ASSERT_EQ(Backfill("v1", dir_.File("rows.jsonl"), &out, &err), 1) << err;
  const std::string file = dir_.File("rows.jsonl");
  EXPECT_TRUE(absl::StrContains(err, file + ":2: prediction: ")) << err;
  EXPECT_TRUE(absl::StrContains(err, file + ":4: timestamp: required")) << err;
  EXPECT_TRUE(absl::StrContains(err, file + ":5: ")) << err;
  EXPECT_TRUE(absl::StrContains(err, file + ":7: prediction_id: repeats"))
      << err;
  EXPECT_FALSE(absl::StrContains(err, file + ":1:")) << err;
  EXPECT_FALSE(absl::StrContains(err, file + ":6:")) << err;
  EXPECT_TRUE(absl::StrContains(out, "6 rows, 2 events loaded, 4 row errors"))
      << out;
  EXPECT_TRUE(absl::StrContains(out, ", 1 join records;")) << out;
}

TEST_F(BackfillTest, CsvRowErrorsNameLineAndField) {
  const absl::Time t0 = absl::FromUnixSeconds(
      absl::ToUnixSeconds(absl::Now() - absl::Hours(30)) / 60 * 60);
  const std::string file = dir_.File("rows.csv");
  std::ofstream(file) << "timestamp,prediction,score,age\n"
                      << Rfc3339(t0) << ",1,0.9,30\n"
                      << Rfc3339(t0) << ",1,high,30\n"
                      << ",1,0.2,40\n"
                      << "yesterday,0,0.1,50\n";
  std::string out, err;
  ASSERT_EQ(Backfill("v1", file, &out, &err), 1) << err;
  EXPECT_TRUE(absl::StrContains(err, file + ":3: score: ")) << err;
  EXPECT_TRUE(absl::StrContains(err, file + ":4: timestamp: required")) << err;
  EXPECT_TRUE(absl::StrContains(err, file + ":5: timestamp: ")) << err;
  EXPECT_FALSE(absl::StrContains(err, file + ":2:")) << err;
  EXPECT_TRUE(absl::StrContains(out, "4 rows, 1 events loaded, 3 row errors"))
      << out;
}

TEST_F(BackfillTest, LabelRowsGoToTheLabelJoin) {
  const absl::Time t0 = absl::FromUnixSeconds(
      absl::ToUnixSeconds(absl::Now() - absl::Hours(3)) / 60 * 60);
  // One event, then delayed labels for two earlier predictions (one with
  // the time its truth became known) and a label row with a prediction_id
  // over the limit.
  std::string body = Events(1, t0);
  body += R"({"prediction_id":"old-1","label":1})"
          "\n";
  body += R"({"prediction_id":"old-2","label":"0","timestamp":")" +
          Rfc3339(t0) + "\"}\n";
  body += R"({"prediction_id":")" + std::string(200, 'x') +
          R"(","label":1})"
          "\n";
  std::ofstream(dir_.File("labels.jsonl")) << body;
  std::string out, err;
  ASSERT_EQ(Backfill("v1", dir_.File("labels.jsonl"), &out, &err), 1) << err;
  EXPECT_TRUE(absl::StrContains(out, "4 rows, 1 events loaded, 1 row errors"))
      << out;
  EXPECT_TRUE(absl::StrContains(out, "; 2 delayed labels sent")) << out;
  EXPECT_TRUE(
      absl::StrContains(err, dir_.File("labels.jsonl") + ":4: prediction_id"))
      << err;
  // Their predictions are not known to the collector: both wait.
  httplib::Client api("127.0.0.1", http_port_);
  auto metrics = api.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(testing::MetricValue(metrics->body, "aims_collector_label_pending"),
            2);
  // A file of good rows only exits 0.
  std::ofstream(dir_.File("good.jsonl")) << Events(3, t0);
  ASSERT_EQ(Backfill("v1", dir_.File("good.jsonl"), &out, &err), 0) << err;
}

TEST_F(BackfillTest, CsvAndJsonLinesGiveTheSameMetrics) {
  const absl::Time t0 = absl::FromUnixSeconds(
      absl::ToUnixSeconds(absl::Now() - absl::Hours(50)) / 60 * 60);
  constexpr int kEvents = 1000;
  std::string jsonl;
  for (int i = 0; i < kEvents; ++i) {
    const int predicted = i % 2;
    const int label = i % 20 < 17 ? predicted : 1 - predicted;
    absl::StrAppend(&jsonl, R"({"prediction_id":"p)", i, R"(","timestamp":")",
                    Rfc3339(t0 + absl::Milliseconds(60'000LL * i / kEvents)),
                    R"(","prediction":)", predicted, R"(,"label":)", label,
                    R"(,"features":{"age":)", 20 + i % 50, R"(,"segment":")",
                    (i % 3 == 0 ? "a" : "b"), R"("},"attributes":{"region":")",
                    (i % 2 ? "eu" : "us"), "\"}}\n");
  }
  std::ofstream(dir_.File("day.jsonl")) << jsonl;
  std::ofstream(dir_.File("day.csv")) << EventsCsv(kEvents, t0);
  std::string out, err;
  ASSERT_EQ(Backfill("json", dir_.File("day.jsonl"), &out, &err), 0) << err;
  ASSERT_EQ(Backfill("csv", dir_.File("day.csv"), &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "1000 events loaded, 0 row errors"))
      << out << err;
  const std::string json = Metrics("json", t0, t0 + absl::Minutes(1));
  EXPECT_EQ(AccuracySampleSize(json), kEvents) << json;
  EXPECT_EQ(absl::StrReplaceAll(Metrics("csv", t0, t0 + absl::Minutes(1)),
                                {{"\"csv\"", "\"json\""}}),
            json);
}

TEST_F(BackfillTest, SameFileTwiceCountsOnceAndMatchesLiveAgent) {
  // A minute of traffic, 10 minutes ago (the agent accepts it: < 24 h old).
  const absl::Time t0 = absl::FromUnixSeconds(
      absl::ToUnixSeconds(absl::Now() - absl::Minutes(10)) / 60 * 60);
  constexpr int kEvents = 3000;
  const std::string events = Events(kEvents, t0);
  std::ofstream(dir_.File("day.jsonl")) << events;

  // Live: the same events through a real agent.
  Subprocess agent(
      {AIMS_AGENT_BIN, "--model_name=credit", "--model_version=live",
       "--environment=it", "--agent_id=pod-a",
       absl::StrCat("--collector=127.0.0.1:", grpc_port_),
       "--http_listen=127.0.0.1:0", "--grpc_listen=127.0.0.1:0", "--window=1s",
       "--reference_events=0", "--data_dir=" + dir_.File("agent"),
       "--ports_file=" + dir_.File("agent.ports")},
      dir_.File("agent.log"));
  const int agent_http = WaitForPort(dir_.File("agent.ports"), "http");
  ASSERT_NE(agent_http, 0) << testing::ReadFile(dir_.File("agent.log"));
  httplib::Client intake("127.0.0.1", agent_http);
  auto posted = intake.Post("/v1/events", events, "application/x-ndjson");
  ASSERT_TRUE(posted && posted->status == 200)
      << (posted ? posted->body : "no answer");

  std::string out, err;
  ASSERT_EQ(Backfill("bf", dir_.File("day.jsonl"), &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "3000 events loaded, 0 row errors"))
      << out;
  EXPECT_TRUE(absl::StrContains(out, "6 windows, 6 sent, 0 already loaded"))
      << out;

  // One range covers the live windows (now) and the backfilled ones.
  const absl::Time from = t0 - absl::Minutes(1);
  const absl::Time to = absl::Now() + absl::Minutes(1);
  std::string live;
  ASSERT_TRUE(WaitFor(
      [&] {
        live = Metrics("live", from, to);
        return AccuracySampleSize(live) == kEvents;
      },
      absl::Seconds(20)))
      << live << testing::ReadFile(dir_.File("agent.log"));
  const std::string backfilled = Metrics("bf", from, to);
  EXPECT_EQ(AccuracySampleSize(backfilled), kEvents) << backfilled;
  // Every metric, value, interval and sample size the same; the backfilled
  // point says its events were backfilled.
  EXPECT_TRUE(absl::StrContains(backfilled, R"("backfilled_events":"3000")"))
      << backfilled;
  EXPECT_TRUE(absl::StrContains(live, R"("backfilled_events":"0")")) << live;
  EXPECT_EQ(absl::StrReplaceAll(backfilled, {{"\"bf\"", "\"live\""},
                                             {R"("backfilled_events":"3000")",
                                              R"("backfilled_events":"0")"}}),
            live);

  // The second load finds every window durable and sends nothing.
  ASSERT_EQ(Backfill("bf", dir_.File("day.jsonl"), &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "6 windows, 0 sent, 6 already loaded"))
      << out;
  EXPECT_EQ(AccuracySampleSize(Metrics("bf", from, to)), kEvents);

  // The backfill agent has left (coverage stops expecting it); the live
  // agent is untouched.
  httplib::Client api("127.0.0.1", http_port_);
  auto agents = api.Get("/v1/agents");
  ASSERT_TRUE(agents && agents->status == 200);
  const std::regex backfill_agent(
      R"re(\{"agent":\{"agent_id":"backfill-[^}]*\}.*?"left_at")re");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(agents->body, m, backfill_agent))
      << agents->body;
  EXPECT_TRUE(absl::StrContains(m.str(), R"("left_reason":"deregistered")"))
      << m.str();
  EXPECT_TRUE(absl::StrContains(
      agents->body, R"("agent_id":"pod-a","pod":"","namespace":"","host")"))
      << agents->body;
  EXPECT_FALSE(absl::StrContains(agents->body, R"("left_reason":"replaced")"))
      << agents->body;
}

// A day of traffic in 10-minute windows, sent at once through a real agent
// in event time (each past window a late instance of it) and backfilled:
// per window, every metric, value, interval and sample size is the same.
TEST_F(BackfillTest, BackfilledDayMatchesLiveAgentPerWindow) {
  const absl::Time t0 = absl::FromUnixSeconds(
      absl::ToUnixSeconds(absl::Now() - absl::Hours(25)) / 600 * 600);
  constexpr int kEvents = 4320;  // 30 per window
  const std::string events = Events(kEvents, t0, absl::Hours(24));
  std::ofstream(dir_.File("day.jsonl")) << events;
  Subprocess agent(
      {AIMS_AGENT_BIN, "--model_name=credit", "--model_version=live",
       "--environment=it", "--agent_id=pod-a",
       absl::StrCat("--collector=127.0.0.1:", grpc_port_),
       "--http_listen=127.0.0.1:0", "--grpc_listen=127.0.0.1:0", "--window=10m",
       "--window_time=event", "--reference_events=0",
       "--data_dir=" + dir_.File("agent"),
       "--ports_file=" + dir_.File("agent.ports")},
      dir_.File("agent.log"));
  const int agent_http = WaitForPort(dir_.File("agent.ports"), "http");
  ASSERT_NE(agent_http, 0) << testing::ReadFile(dir_.File("agent.log"));
  httplib::Client intake("127.0.0.1", agent_http);
  auto posted = intake.Post("/v1/events", events, "application/x-ndjson");
  ASSERT_TRUE(posted && posted->status == 200)
      << (posted ? posted->body : "no answer");

  std::string out, err;
  ASSERT_EQ(Backfill("bf", dir_.File("day.jsonl"), &out, &err, "10m"), 0)
      << err;
  EXPECT_TRUE(absl::StrContains(
      out, "4320 events loaded, 0 row errors; 144 windows, 144 sent"))
      << out;
  const absl::Time to = t0 + absl::Hours(24);
  std::string live;
  ASSERT_TRUE(WaitFor(
      [&] {
        live = Metrics("live", t0, to);
        return AccuracySampleSize(live) == kEvents;
      },
      absl::Seconds(30)))
      << live << testing::ReadFile(dir_.File("agent.log"));
  // One point per window; only the marks of how the data came differ.
  auto per_window = [&](const std::string& version) {
    static const std::regex marks(
        R"re("(backfilled|late)_events":"?[0-9]+"?,?)re");
    return std::regex_replace(
        absl::StrReplaceAll(Metrics(version, t0, to, "10m"),
                            {{absl::StrCat("\"", version, "\""), "\"v\""}}),
        marks, "");
  };
  const std::string backfilled = per_window("bf");
  live = per_window("live");
  const std::regex point(R"re("start":)re");
  EXPECT_EQ(std::distance(std::sregex_iterator(live.begin(), live.end(), point),
                          std::sregex_iterator()),
            144)
      << live;
  EXPECT_EQ(backfilled, live);
}

// Windows go while the file is read, once it is --lateness past them; rows
// for a window already sent (here 50, two hours late) go in one more report
// of it at the end: every event counts once, in its window, and a second
// load sends nothing. An unreadable input names the flag and the file.
TEST_F(BackfillTest, LateRowsGoInOneMoreReportOfTheirWindow) {
  const absl::Time t0 = absl::FromUnixSeconds(
      absl::ToUnixSeconds(absl::Now() - absl::Hours(5)) / 600 * 600);
  const std::string late = absl::StrReplaceAll(
      Events(50, t0, absl::Minutes(10)),
      {{R"("prediction_id":"p)", R"("prediction_id":"late)"}});
  // More rows than aimsctl folds at once (8,192), 500 per window.
  std::ofstream(dir_.File("late.jsonl"))
      << Events(9000, t0, absl::Hours(3)) << late;
  std::string out, err;
  ASSERT_EQ(Backfill("bf", dir_.File("late.jsonl"), &out, &err, "10m"), 0)
      << err;
  EXPECT_TRUE(absl::StrContains(
      out, "9050 events loaded, 0 row errors; 19 windows, 19 sent"))
      << out;
  std::string all;
  ASSERT_TRUE(WaitFor(
      [&] {
        all = Metrics("bf", t0, t0 + absl::Hours(3));
        return AccuracySampleSize(all) == 9050;
      },
      absl::Seconds(20)))
      << all;
  EXPECT_EQ(AccuracySampleSize(Metrics("bf", t0, t0 + absl::Minutes(10))), 550);
  EXPECT_EQ(AccuracySampleSize(
                Metrics("bf", t0 + absl::Minutes(10), t0 + absl::Minutes(20))),
            500);

  ASSERT_EQ(Backfill("bf", dir_.File("late.jsonl"), &out, &err, "10m"), 0)
      << err;
  EXPECT_TRUE(absl::StrContains(out, "19 windows, 0 sent, 19 already loaded"))
      << out;
  EXPECT_EQ(AccuracySampleSize(Metrics("bf", t0, t0 + absl::Hours(3))), 9050);

  EXPECT_NE(Backfill("bf", dir_.File("none.jsonl"), &out, &err), 0);
  EXPECT_TRUE(absl::StrContains(
      err, absl::StrCat("--input: ", dir_.File("none.jsonl"),
                        ": cannot read: No such file or directory")))
      << err;
}

// A data-quality metric through the CLI: a backfilled file with `age`
// missing from every fourth row shows missing_rate 25 % for age and 0 for
// segment in aimsctl metrics, with its sample size, marked backfilled.
TEST_F(BackfillTest, MissingRateThroughAimsctlMetrics) {
  const absl::Time t0 = absl::FromUnixSeconds(
      absl::ToUnixSeconds(absl::Now() - absl::Hours(5)) / 60 * 60);
  std::string csv = "timestamp,prediction,age,segment\n";
  for (int i = 0; i < 200; ++i) {
    absl::StrAppend(&csv, Rfc3339(t0 + absl::Milliseconds(100 * i)), ",", i % 2,
                    ",", i % 4 == 0 ? "" : absl::StrCat(20 + i % 50), ",",
                    i % 3 == 0 ? "a" : "b", "\n");
  }
  std::ofstream(dir_.File("dq.csv")) << csv;
  std::string out, err;
  ASSERT_EQ(Backfill("dq", dir_.File("dq.csv"), &out, &err, "1m"), 0) << err;
  ASSERT_EQ(
      RunCommand(
          {AIMS_CTL_BIN, absl::StrCat("--collector=127.0.0.1:", grpc_port_),
           "metrics", "--model=credit", "--version=dq", "--environment=it",
           "--since=1d", "--metric=missing_rate"},
          &out, &err),
      0)
      << err;
  std::smatch m;
  const std::regex age(
      R"re(missing_rate +age +(\S+) +(\[[^\]]*\]) +- +200 +ok +yes)re");
  ASSERT_TRUE(std::regex_search(out, m, age)) << out;
  EXPECT_EQ(m[1], "0.25") << out;
  const std::regex segment(R"re(missing_rate +segment +0 +\[)re");
  EXPECT_TRUE(std::regex_search(out, segment)) << out;
  EXPECT_FALSE(absl::StrContains(out, "accuracy")) << out;
}

// On a terminal (a pty from script(1)) backfill draws a progress bar on
// stderr; piped, it draws none.
TEST_F(BackfillTest, ProgressBarOnATerminalOnly) {
  const absl::Time t0 = absl::FromUnixSeconds(
      absl::ToUnixSeconds(absl::Now() - absl::Hours(4)) / 60 * 60);
  const std::string file = dir_.File("big.jsonl");
  const std::string events = Events(20000, t0);  // two full chunks of rows
  std::ofstream(file) << events;
  std::string out, err;
  ASSERT_EQ(Backfill("piped", file, &out, &err), 0) << err;
  EXPECT_EQ(err, "");
  // Another file (a file's backfill agent stays with its model version).
  std::ofstream(dir_.File("big2.jsonl")) << events << "\n";
  const std::string command = absl::StrCat(
      AIMS_CTL_BIN, " --collector=127.0.0.1:", grpc_port_,
      " backfill --model=credit --version=tty --environment=it --input=",
      dir_.File("big2.jsonl"), " --window=10s");
  std::string tty;
  ASSERT_EQ(RunCommand({"/usr/bin/script", "-qec", command, "/dev/null"}, &tty),
            0)
      << tty;
  static const std::regex bar(R"re(\r\[#+ *\] [0-9]+%)re");
  EXPECT_TRUE(std::regex_search(tty, bar)) << tty;
  EXPECT_TRUE(absl::StrContains(tty, "20000 events loaded, 0 row errors"))
      << tty;
}

// Join records beyond --max_pending_prediction_bytes in a window: the
// events load, the run fails naming the flag; within it, all records go
// (a window of 50,000 is sent in parts) and the collector stores each once.
TEST_F(BackfillTest, JoinRecordsBeyondTheLimitFailNamingTheFlag) {
  const absl::Time t0 = absl::FromUnixSeconds(
      absl::ToUnixSeconds(absl::Now() - absl::Hours(2)) / 60 * 60);
  std::string body;
  constexpr int kEvents = 50000;
  for (int i = 0; i < kEvents; ++i) {
    absl::StrAppend(&body, R"({"prediction_id":"q)", i, R"(","timestamp":")",
                    Rfc3339(t0), R"(","prediction":1})", "\n");
  }
  const std::string file = dir_.File("unlabelled.jsonl");
  std::ofstream(file) << body;
  auto run = [&](const std::string& version, const std::string& limit,
                 std::string* out, std::string* err) {
    return RunCommand(
        {AIMS_CTL_BIN, absl::StrCat("--collector=127.0.0.1:", grpc_port_),
         "backfill", "--model=credit", "--version=" + version,
         "--environment=it", "--input=" + file,
         "--max_pending_prediction_bytes=" + limit},
        out, err);
  };
  std::string out, err;
  EXPECT_NE(run("small", "1024", &out, &err), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "50000 events loaded, 0 row errors"))
      << out;
  EXPECT_TRUE(absl::StrContains(err, "beyond --max_pending_prediction_bytes"))
      << err;
  std::ofstream(file, std::ios::app) << "\n";  // another file
  EXPECT_EQ(run("large", "16777216", &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(
      out, "1 windows, 1 sent, 0 already loaded, 50000 join records;"))
      << out;
  httplib::Client api("127.0.0.1", http_port_);
  auto metrics = api.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(testing::MetricValue(metrics->body, "aims_collector_label_records"),
            kEvents);
  EXPECT_GE(
      testing::MetricValue(metrics->body, "aims_collector_report_parts_total"),
      2);
}

// A batch model's day with a bad half-minute loaded by aimsctl backfill:
// catch-up judges the backfilled windows as if live, so one nonconformity
// exists whose evidence is the first bad window, found on backfilled data;
// /v1/metrics marks the points backfilled.
TEST_F(BackfillTest, BackfilledBreachRaisesANonconformity) {
  const absl::Time t0 = absl::FromUnixSeconds(
      absl::ToUnixSeconds(absl::Now() - absl::Hours(30)) / 60 * 60);
  constexpr int kEvents = 600;
  std::string csv = "prediction_id,timestamp,prediction,label\n";
  for (int i = 0; i < kEvents; ++i) {
    const int predicted = i % 2;
    // 90 % right in the first 30 s, 10 % in the last 30 s.
    const bool right = i < kEvents / 2 ? i % 10 != 0 : i % 10 == 0;
    absl::StrAppend(&csv, "p", i, ",",
                    Rfc3339(t0 + absl::Milliseconds(60'000LL * i / kEvents)),
                    ",", predicted, ",", right ? predicted : 1 - predicted,
                    "\n");
  }
  const std::string file = dir_.File("batch.csv");
  std::ofstream(file) << csv;
  std::string out, err;
  ASSERT_EQ(RunCommand({AIMS_CTL_BIN,
                        absl::StrCat("--collector=127.0.0.1:", grpc_port_),
                        "backfill", "--model=credit", "--version=batch",
                        "--environment=it", "--input=" + file, "--window=5s"},
                       &out, &err),
            0)
      << err;
  EXPECT_TRUE(absl::StrContains(out, "600 events loaded, 0 row errors")) << out;

  httplib::Client api("127.0.0.1", http_port_);
  std::string ncs;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto res = api.Get("/v1/nonconformities");
        ncs = res && res->status == 200 ? res->body : "";
        return absl::StrContains(ncs, "\"objective_id\":\"accuracy\"");
      },
      absl::Seconds(20)))
      << ncs << testing::ReadFile(dir_.File("collector.log"));
  // Exactly one, on the first bad window, found by catch-up.
  const std::regex id(R"re("id":"NC-[0-9]+")re");
  EXPECT_EQ(std::distance(std::sregex_iterator(ncs.begin(), ncs.end(), id),
                          std::sregex_iterator()),
            1)
      << ncs;
  EXPECT_TRUE(
      absl::StrContains(ncs, R"("found_by":"catch-up: backfilled data")"))
      << ncs;
  EXPECT_TRUE(absl::StrContains(
      ncs,
      absl::StrCat(R"("window_start":")", Rfc3339(t0 + absl::Seconds(30)))))
      << ncs;

  const std::string metrics = Metrics("batch", t0, t0 + absl::Minutes(1));
  EXPECT_TRUE(absl::StrContains(metrics, R"("backfilled_events":"600")"))
      << metrics;
  EXPECT_TRUE(absl::StrContains(metrics, R"("event_count":"600")")) << metrics;
  // aimsctl metrics: the BACKFILLED column.
  ASSERT_EQ(RunCommand({AIMS_CTL_BIN,
                        absl::StrCat("--collector=127.0.0.1:", grpc_port_),
                        "metrics", "--model=credit", "--version=batch",
                        "--environment=it", "--since=2d", "--metric=accuracy"},
                       &out, &err),
            0)
      << err;
  EXPECT_TRUE(absl::StrContains(out, "BACKFILLED")) << out;
  EXPECT_TRUE(absl::StrContains(out, " yes\n")) << out;
}

// A batch model backfills its predictions (prediction_id, no label), then
// its labels: half as label rows in a second file, half posted to the
// collector. Each label lands in its prediction's window, the accuracy
// objective finds the bad half-minute, and the join keeps one record per
// prediction however often the predictions are loaded.
TEST_F(BackfillTest, BackfilledPredictionsJoinLaterLabels) {
  const absl::Time t0 = absl::FromUnixSeconds(
      absl::ToUnixSeconds(absl::Now() - absl::Hours(3)) / 60 * 60);
  constexpr int kEvents = 600;
  std::string predictions = "prediction_id,timestamp,prediction\n";
  std::string label_rows = "prediction_id,label\n";
  std::string posted = "[";
  for (int i = 0; i < kEvents; ++i) {
    const int predicted = i % 2;
    // 90 % right in the first 30 s, 10 % in the last 30 s.
    const bool right = i < kEvents / 2 ? i % 10 != 0 : i % 10 == 0;
    const int label = right ? predicted : 1 - predicted;
    absl::StrAppend(&predictions, "p", i, ",",
                    Rfc3339(t0 + absl::Milliseconds(60'000LL * i / kEvents)),
                    ",", predicted, "\n");
    if (i < kEvents / 2) {
      absl::StrAppend(&label_rows, "p", i, ",", label, "\n");
    } else {
      absl::StrAppend(&posted, posted.size() > 1 ? "," : "",
                      R"({"prediction_id":"p)", i, R"(","label":)", label, "}");
    }
  }
  posted += "]";
  const std::string file = dir_.File("predictions.csv");
  std::ofstream(file) << predictions;
  std::ofstream(dir_.File("labels.csv")) << label_rows;
  auto backfill = [&](const std::string& version, const std::string& input,
                      std::string* out) {
    std::string err;
    const int code = RunCommand(
        {AIMS_CTL_BIN, absl::StrCat("--collector=127.0.0.1:", grpc_port_),
         "backfill", "--model=credit", "--version=" + version,
         "--environment=it", "--input=" + input, "--window=5s"},
        out, &err);
    EXPECT_EQ(code, 0) << err;
  };
  std::string out;
  backfill("batch", file, &out);
  EXPECT_TRUE(absl::StrContains(
      out,
      "600 events loaded, 0 row errors; 12 windows, 12 sent, 0 already "
      "loaded, 600 join records; 0 delayed labels sent"))
      << out;
  httplib::Client api("127.0.0.1", http_port_);
  auto metric = [&](const std::string& name) {
    auto res = api.Get("/metrics");
    return res ? testing::MetricValue(res->body, name) : -1;
  };
  EXPECT_EQ(metric("aims_collector_label_records"), kEvents);
  // Loaded again: nothing sent. The same predictions in another file: their
  // windows are new reports, but the join ignores the known records.
  backfill("batch", file, &out);
  EXPECT_TRUE(absl::StrContains(out, "0 sent, 12 already loaded, 0 join"))
      << out;
  std::ofstream(dir_.File("copy.csv")) << predictions << "\n";
  backfill("copy", dir_.File("copy.csv"), &out);
  EXPECT_TRUE(absl::StrContains(out, "12 sent, 0 already loaded, 600 join"))
      << out;
  ASSERT_TRUE(WaitFor(
      [&] {
        return metric("aims_collector_label_records_ignored_total") == kEvents;
      },
      absl::Seconds(10)));
  EXPECT_EQ(metric("aims_collector_label_records"), kEvents);

  // The labels: rows of a file, and a post to the collector.
  backfill("batch", dir_.File("labels.csv"), &out);
  EXPECT_TRUE(absl::StrContains(out, "; 300 delayed labels sent")) << out;
  auto res = api.Post("/v1/labels?model=credit&environment=it", posted,
                      "application/json");
  ASSERT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");

  // Each half's labels in its half's windows.
  const absl::Time half = t0 + absl::Seconds(30);
  std::string first, second;
  ASSERT_TRUE(WaitFor(
      [&] {
        first = Metrics("batch", t0, half);
        second = Metrics("batch", half, t0 + absl::Minutes(1));
        return AccuracySampleSize(first) == kEvents / 2 &&
               AccuracySampleSize(second) == kEvents / 2;
      },
      absl::Seconds(20)))
      << first << second << testing::ReadFile(dir_.File("collector.log"));
  EXPECT_NEAR(AccuracyValue(first), 0.9, 1e-9) << first;
  EXPECT_NEAR(AccuracyValue(second), 0.1, 1e-9) << second;
  EXPECT_EQ(metric("aims_collector_label_pending"), 0);
  EXPECT_EQ(metric("aims_collector_label_joins_total"), kEvents);

  // Catch-up judges the windows again with their labels: one
  // nonconformity, on the first bad window.
  std::string ncs;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = api.Get("/v1/nonconformities");
        ncs = r && r->status == 200 ? r->body : "";
        return absl::StrContains(ncs, "\"objective_id\":\"accuracy\"");
      },
      absl::Seconds(20)))
      << ncs << testing::ReadFile(dir_.File("collector.log"));
  const std::regex id(R"re("id":"NC-[0-9]+")re");
  EXPECT_EQ(std::distance(std::sregex_iterator(ncs.begin(), ncs.end(), id),
                          std::sregex_iterator()),
            1)
      << ncs;
  EXPECT_TRUE(absl::StrContains(ncs, R"("found_by":"catch-up: )")) << ncs;
  EXPECT_TRUE(absl::StrContains(
      ncs, absl::StrCat(R"("window_start":")", Rfc3339(half))))
      << ncs;
}

}  // namespace
}  // namespace aims
