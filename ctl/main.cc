// aimsctl: command-line client of aims-collector. See --help.
#include <iostream>
#include <string>
#include <vector>

#include "ctl/ctl.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  return aims::ctl::RunCommandLine(args, aims::ctl::ProcessEnvironment(),
                                   std::cout, std::cerr);
}
