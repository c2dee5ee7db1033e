// Signal handling for the binaries: SIGTERM/SIGINT (stop) and SIGHUP
// (reload) are blocked in every thread and received synchronously by the
// main thread, so no handler runs at an arbitrary point.
//
// Thread-safety: BlockShutdownSignals() must run in main() before any thread
// starts; WaitForSignal() only from the main thread.
#ifndef AIMS_COMMON_BASE_SIGNALS_H_
#define AIMS_COMMON_BASE_SIGNALS_H_

namespace aims {

void BlockShutdownSignals();
// Blocks until SIGTERM, SIGINT or SIGHUP arrives; returns its number.
int WaitForSignal();

}  // namespace aims

#endif  // AIMS_COMMON_BASE_SIGNALS_H_
