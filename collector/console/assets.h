// ConsoleAssets(): the browser console's files (collector/console/web/*),
// embedded in the binary at build time by embed_assets.cmake.
//
// Thread-safety: an immutable table.
#ifndef AIMS_COLLECTOR_CONSOLE_ASSETS_H_
#define AIMS_COLLECTOR_CONSOLE_ASSETS_H_

#include <cstddef>
#include <vector>

namespace aims::collector {

struct ConsoleAsset {
  const char* name;  // the file name, e.g. "app.js"
  const char* data;
  size_t size;
};

const std::vector<ConsoleAsset>& ConsoleAssets();

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_CONSOLE_ASSETS_H_
