// The `gitvault` command line: parses arguments with CLI11 and calls the libraries.
// main() is one line calling gitvault_main, so tests can run the same code in-process.
#pragma once

namespace gitvault {

// Exit status: 0 everything done, 1 some repositories (or the run) failed,
// 2 usage or configuration error (nothing was attempted). See docs/exit-codes.md.
int gitvault_main(int argc, char** argv);

}  // namespace gitvault
