// Hardware CRC32C for RocksDB.
//
// RocksDB checksums every write-ahead-log record and every blob file record
// with CRC32C. Debian builds its librocksdb portable, without SSE4.2, so it
// computes CRC32C a byte-table at a time (`Slow_CRC32`, about 1 GB/s here):
// 13 % of the collector's CPU under sustained ingest. Every binary that
// links aims_collector is linked with `--wrap` for that function's symbol
// (collector/CMakeLists.txt), so RocksDB's calls of
// `rocksdb::crc32c::Extend` reach rocksdb_crc32c.cc, which uses the SSE4.2
// crc32 instruction when the CPU has it and RocksDB's own code otherwise.
// The checksums are the same CRC32C either way: directories stay readable
// by any RocksDB.
//
// Thread-safety: stateless apart from an atomic call counter.
#ifndef AIMS_COLLECTOR_STORAGE_ROCKSDB_CRC32C_H_
#define AIMS_COLLECTOR_STORAGE_ROCKSDB_CRC32C_H_

#include <cstdint>

namespace aims::collector {

// "sse4.2" when RocksDB's CRC32C runs on the crc32 instruction, else
// "rocksdb" (its own, portable code). Referencing it also links the
// interposing definition into the binary.
const char* RocksDbCrc32cImplementation();

// Calls of the interposed function so far (tests check that RocksDB's own
// writes go through it).
uint64_t RocksDbCrc32cCalls();

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_STORAGE_ROCKSDB_CRC32C_H_
