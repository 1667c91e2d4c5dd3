#include "cli/gitvault_cli.h"
#include "s3/client.h"

int main(int argc, char** argv) {
  gitvault::s3::adopt_environment_credentials();  // before anything can start a child
  return gitvault::gitvault_main(argc, argv);
}
