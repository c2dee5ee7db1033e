// TSan builds only (-DAIMS_SANITIZE=thread; linked into every executable):
// tells ThreadSanitizer about absl::Mutex and absl::CondVar.
//
// Debian's absl is not built with TSan, so the happens-before edges its
// Mutex creates (atomics and futexes inside libabsl_synchronization.so) are
// invisible, and every access guarded by an absl::Mutex - ours and gRPC's,
// which locks with absl too - would be reported as a race. These
// definitions interpose the library's (the executable's symbols come first
// for every caller, gRPC included), call the real functions found with
// dlsym(RTLD_NEXT) and mark an acquire on the mutex's address after each
// lock and a release before each unlock. Mutual exclusion itself is still
// the library's; TSan sees the ordering, not lock ownership (so it does not
// look for lock-order inversions, and absl's own deadlock detection is off:
// the -Wthread-safety build checks locking). tests/tsan.supp covers what
// remains invisible inside gRPC and protobuf.
//
// Thread-safety: as absl::Mutex.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/synchronization/mutex.h"

namespace {

// The real function `name` (mangled) of the next object in the lookup order.
template <typename F>
F Real(const char* name) {
  void* f = dlsym(RTLD_NEXT, name);
  if (f == nullptr) {
    std::fprintf(stderr, "tsan_absl_sync: %s not found: %s\n", name, dlerror());
    std::abort();
  }
  return reinterpret_cast<F>(f);
}

// Mangled names in the inline namespace of the absl in use.
#define AIMS_ABSL_NS_STR2(ns) #ns
#define AIMS_ABSL_NS_STR(ns) AIMS_ABSL_NS_STR2(ns)
constexpr const char kNs[] =
    AIMS_ABSL_NS_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);

// "_ZN4absl" + <length><inline namespace> + `rest`, e.g. "5Mutex4LockEv"
// (inside `rest` the namespace is a back reference, "NS0_").
std::string Mangled(const char* rest) {
  return "_ZN4absl" + std::to_string(sizeof(kNs) - 1) + kNs + rest;
}

#define AIMS_REAL(type, rest) \
  static const auto real = Real<type>(Mangled(rest).c_str())

// absl's deadlock detector keeps a lock graph under its own (uninstrumented)
// spin lock: TSan would see its updates race. Lock order is not what this
// build checks.
const bool kDeadlockDetectionOff = [] {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return true;
}();

void Acquire(const void* mu) { __tsan_acquire(const_cast<void*>(mu)); }
void Release(const void* mu) { __tsan_release(const_cast<void*>(mu)); }

// absl evaluates a waiter's Condition (which reads state the mutex guards)
// while the real lock is held, but not where the acquire and release above
// are: on the waiting thread before LockWhen returns, or on the thread that
// unlocks. Each evaluation is therefore ordered on its own, as a critical
// section of its mutex.
struct Ordered {
  const absl::Condition* cond;
  const void* mu;
};
bool EvalOrdered(void* arg) {
  const Ordered* o = static_cast<const Ordered*>(arg);
  Acquire(o->mu);
  const bool holds = o->cond->Eval();
  Release(o->mu);
  return holds;
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  AIMS_REAL(void (*)(Mutex*), "5Mutex4LockEv");
  real(this);
  Acquire(this);
}

void Mutex::Unlock() {
  AIMS_REAL(void (*)(Mutex*), "5Mutex6UnlockEv");
  Release(this);
  real(this);
}

bool Mutex::TryLock() {
  AIMS_REAL(bool (*)(Mutex*), "5Mutex7TryLockEv");
  const bool locked = real(this);
  if (locked) Acquire(this);
  return locked;
}

void Mutex::ReaderLock() {
  AIMS_REAL(void (*)(Mutex*), "5Mutex10ReaderLockEv");
  real(this);
  Acquire(this);
}

void Mutex::ReaderUnlock() {
  AIMS_REAL(void (*)(Mutex*), "5Mutex12ReaderUnlockEv");
  Release(this);
  real(this);
}

bool Mutex::ReaderTryLock() {
  AIMS_REAL(bool (*)(Mutex*), "5Mutex13ReaderTryLockEv");
  const bool locked = real(this);
  if (locked) Acquire(this);
  return locked;
}

void Mutex::LockWhen(const Condition& cond) {
  AIMS_REAL(void (*)(Mutex*, const Condition&),
            "5Mutex8LockWhenERKNS0_9ConditionE");
  const Ordered o{&cond, this};
  const Condition ordered(&EvalOrdered, const_cast<Ordered*>(&o));
  real(this, ordered);
  Acquire(this);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  AIMS_REAL(bool (*)(Mutex*, const Condition&, absl::Duration),
            "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  const Ordered o{&cond, this};
  const Condition ordered(&EvalOrdered, const_cast<Ordered*>(&o));
  const bool met = real(this, ordered, timeout);
  Acquire(this);
  return met;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  AIMS_REAL(bool (*)(Mutex*, const Condition&, absl::Time),
            "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  const Ordered o{&cond, this};
  const Condition ordered(&EvalOrdered, const_cast<Ordered*>(&o));
  const bool met = real(this, ordered, deadline);
  Acquire(this);
  return met;
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  AIMS_REAL(void (*)(Mutex*, const Condition&),
            "5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  const Ordered o{&cond, this};
  const Condition ordered(&EvalOrdered, const_cast<Ordered*>(&o));
  real(this, ordered);
  Acquire(this);
}

void Mutex::Await(const Condition& cond) {
  AIMS_REAL(void (*)(Mutex*, const Condition&),
            "5Mutex5AwaitERKNS0_9ConditionE");
  const Ordered o{&cond, this};
  const Condition ordered(&EvalOrdered, const_cast<Ordered*>(&o));
  Release(this);
  real(this, ordered);
  Acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  AIMS_REAL(bool (*)(Mutex*, const Condition&, absl::Duration),
            "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  const Ordered o{&cond, this};
  const Condition ordered(&EvalOrdered, const_cast<Ordered*>(&o));
  Release(this);
  const bool met = real(this, ordered, timeout);
  Acquire(this);
  return met;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  AIMS_REAL(bool (*)(Mutex*, const Condition&, absl::Time),
            "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  const Ordered o{&cond, this};
  const Condition ordered(&EvalOrdered, const_cast<Ordered*>(&o));
  Release(this);
  const bool met = real(this, ordered, deadline);
  Acquire(this);
  return met;
}

void CondVar::Wait(Mutex* mu) {
  AIMS_REAL(void (*)(CondVar*, Mutex*), "7CondVar4WaitEPNS0_5MutexE");
  Release(mu);
  real(this, mu);
  Acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  AIMS_REAL(bool (*)(CondVar*, Mutex*, absl::Duration),
            "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  Release(mu);
  const bool timed_out = real(this, mu, timeout);
  Acquire(mu);
  return timed_out;
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  AIMS_REAL(bool (*)(CondVar*, Mutex*, absl::Time),
            "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  Release(mu);
  const bool timed_out = real(this, mu, deadline);
  Acquire(mu);
  return timed_out;
}

ABSL_NAMESPACE_END
}  // namespace absl
