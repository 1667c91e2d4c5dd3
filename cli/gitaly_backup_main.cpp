#include "cli/gitaly_backup_cli.h"
#include "s3/client.h"

int main(int argc, char** argv) {
  gitvault::s3::adopt_environment_credentials();  // its git children never see them
  return gitvault::gitaly_backup_main(argc, argv);
}
