#include <gtest/gtest.h>
#include "host/heatkit.h"
using namespace heatkit;
using namespace std::chrono_literals;
TEST(Smoke, Basic) {
  HeatRegistry r = HeatRegistry::with_cap(2);
  Instant t{};
  r.entry(1, 60s, t).bump(t);
  r.entry(1, 60s, t).bump(t);
  auto e = r.tick(Policy{}, t);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].second, HeatEmission::emit(2.0));
  r.commit(e);
  r.entry(2, 60s, t + 1us).bump(t + 1us);
  r.entry(3, 60s, t + 2us).bump(t + 2us);
  EXPECT_FALSE(r.get(1));
  EXPECT_EQ(r.size(), 2u);
}
