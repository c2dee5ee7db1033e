// Helpers for aims tests: temporary directories, real subprocesses of the
// aims binaries, and polling for a condition with a deadline (for waiting on
// other processes only; in-process code uses FakeClock instead of sleeping).
//
// Thread-safety: each object is used by one test thread.
#ifndef AIMS_TESTS_TESTING_TEST_UTIL_H_
#define AIMS_TESTS_TESTING_TEST_UTIL_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace aims::testing {

// A fresh directory under $TMPDIR, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A child process with stdout and stderr sent to files.
class Subprocess {
 public:
  Subprocess(std::vector<std::string> argv, const std::string& log_path);
  ~Subprocess();  // SIGKILLs the child if still running.

  pid_t pid() const { return pid_; }
  bool running();
  // Sends `sig` and waits up to `timeout` for exit; returns the exit status
  // (or 128+signal), -1 on timeout.
  int Signal(int sig, absl::Duration timeout = absl::Seconds(20));
  int Wait(absl::Duration timeout);

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  bool reaped_ = false;
};

// Runs `argv` to completion; returns its exit code and captures stdout.
int RunCommand(const std::vector<std::string>& argv, std::string* out,
               std::string* err = nullptr);

// Polls `condition` every 20 ms until true or `timeout`; returns the last
// value.
bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout);

// Reads a ports file ("name port" lines); empty map if not there yet.
std::map<std::string, int> ReadPortsFile(const std::string& path);

std::string ReadFile(const std::string& path);

// Waits up to `timeout` for `name` in a ports file; 0 if it never appears.
int WaitForPort(const std::string& ports_file, const std::string& name,
                absl::Duration timeout = absl::Seconds(20));

// A free loopback TCP port (bound and released; fine for tests).
int FreePort();

// The value of the first sample of `series` in a Prometheus text page: the
// exact name, with at least the labels given, e.g.
// `aims_agent_spool_reports` or `x_total{outcome="stored"}` (which matches
// `x_total{outcome="stored",model="credit"}` too); -1 if absent.
double MetricValue(const std::string& page, const std::string& series);

// Resident set size of a process in bytes (from /proc), 0 if unknown.
uint64_t ResidentBytes(pid_t pid);

}  // namespace aims::testing

#endif  // AIMS_TESTS_TESTING_TEST_UTIL_H_
