#include "cli/gitaly_backup_cli.h"

int main(int argc, char** argv) { return gitvault::gitaly_backup_main(argc, argv); }
