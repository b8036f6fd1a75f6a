// certmgr (also installed as CertificateManager): the administrator's tool.
#include "cli/certmgr_main.h"

int main(int argc, char** argv) { return ck::cli::certmgr_main(argc, argv); }
