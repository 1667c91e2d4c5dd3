#include "cli/gitvault_cli.h"

int main(int argc, char** argv) { return gitvault::gitvault_main(argc, argv); }
