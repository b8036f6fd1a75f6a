#include "common/process_hardening.h"

#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/resource.h>

namespace ck {
namespace {

TEST(ProcessHardening, NoCoreDumpsAndNotDumpable) {
  ASSERT_TRUE(disable_core_dumps().ok());
  struct rlimit core{};
  ASSERT_EQ(::getrlimit(RLIMIT_CORE, &core), 0);
  EXPECT_EQ(core.rlim_cur, 0u);
  EXPECT_EQ(core.rlim_max, 0u);  // and it cannot be raised again without privileges
  EXPECT_EQ(::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
  EXPECT_TRUE(disable_core_dumps().ok());  // idempotent
}

}  // namespace
}  // namespace ck
