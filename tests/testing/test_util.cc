#include "tests/testing/test_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace aims::testing {

TempDir::TempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp ? tmp : "/tmp") + "/aims-test-XXXXXX";
  char* made = mkdtemp(pattern.data());
  path_ = made ? made : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

Subprocess::Subprocess(std::vector<std::string> argv,
                       const std::string& log_path) {
  pid_ = fork();
  if (pid_ == 0) {
    const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
    // Children must not inherit a blocked signal mask.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

bool Subprocess::running() {
  if (reaped_) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    reaped_ = true;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

int Subprocess::Wait(absl::Duration timeout) {
  WaitFor([this] { return !running(); }, timeout);
  return reaped_ ? status_ : -1;
}

int Subprocess::Signal(int sig, absl::Duration timeout) {
  if (!reaped_) kill(pid_, sig);
  return Wait(timeout);
}

int RunCommand(const std::vector<std::string>& argv, std::string* out,
               std::string* err) {
  char out_path[] = "/tmp/aims-cmd-out-XXXXXX";
  char err_path[] = "/tmp/aims-cmd-err-XXXXXX";
  const int out_fd = mkstemp(out_path);
  const int err_fd = mkstemp(err_path);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    std::vector<char*> args;
    for (const std::string& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  close(out_fd);
  close(err_fd);
  if (out != nullptr) *out = ReadFile(out_path);
  if (err != nullptr) *err = ReadFile(err_path);
  unlink(out_path);
  unlink(err_path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

std::map<std::string, int> ReadPortsFile(const std::string& path) {
  std::map<std::string, int> ports;
  std::ifstream in(path);
  std::string name;
  int port = 0;
  while (in >> name >> port) ports[name] = port;
  return ports;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int WaitForPort(const std::string& ports_file, const std::string& name,
                absl::Duration timeout) {
  int port = 0;
  WaitFor(
      [&] {
        auto ports = ReadPortsFile(ports_file);
        port = ports.count(name) ? ports[name] : 0;
        return port != 0;
      },
      timeout);
  return port;
}

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

double MetricValue(const std::string& page, const std::string& series) {
  const size_t brace = series.find('{');
  const std::string name = series.substr(0, brace);
  std::vector<std::string> wanted;  // k="v"
  if (brace != std::string::npos) {
    wanted = absl::StrSplit(
        absl::StripSuffix(absl::string_view(series).substr(brace + 1), "}"),
        ',', absl::SkipEmpty());
  }
  for (absl::string_view line : absl::StrSplit(page, '\n')) {
    if (!absl::ConsumePrefix(&line, name)) continue;
    absl::string_view labels;
    if (absl::ConsumePrefix(&line, "{")) {
      const size_t close = line.find("} ");
      if (close == absl::string_view::npos) continue;
      labels = line.substr(0, close);
      line.remove_prefix(close + 1);
    }
    if (!absl::ConsumePrefix(&line, " ")) continue;
    const std::vector<absl::string_view> have =
        absl::StrSplit(labels, ',', absl::SkipEmpty());
    if (std::all_of(wanted.begin(), wanted.end(), [&](const std::string& w) {
          return std::find(have.begin(), have.end(), w) != have.end();
        })) {
      return std::stod(std::string(line));
    }
  }
  return -1;
}

uint64_t ResidentBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      uint64_t kb = 0;
      in >> kb;
      return kb * 1024;
    }
    std::string rest;
    std::getline(in, rest);
  }
  return 0;
}

}  // namespace aims::testing
