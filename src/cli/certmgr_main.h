// certmgr's entry point, separate from main() so tests could call it in-process.
#pragma once

namespace ck::cli {

int certmgr_main(int argc, char** argv);

}  // namespace ck::cli
