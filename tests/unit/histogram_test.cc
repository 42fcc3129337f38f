#include "bench/histogram.h"

#include <random>

#include <gtest/gtest.h>

namespace users::bench {
namespace {

TEST(HistogramTest, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v = 0; v < 100; ++v) h.Record(v);
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.Percentile(0.5), 49u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 99u);
}

TEST(HistogramTest, BucketsCoverEveryValueWithinTwoPercent) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000; ++i) {
    const uint64_t v = rng() >> (rng() % 64);
    const int index = Histogram::Index(v);
    ASSERT_GE(index, 0);
    ASSERT_LT(index, Histogram::kBuckets);
    const uint64_t upper = Histogram::UpperEdge(index);
    ASSERT_GE(upper, v);
    ASSERT_LE(double(upper - v), double(v) * 0.016 + 1) << v;
  }
}

TEST(HistogramTest, PercentilesOfAUniformSpread) {
  Histogram h;
  for (uint64_t v = 1; v <= 100000; ++v) h.Record(v * 1000);
  EXPECT_NEAR(double(h.Percentile(0.5)), 50e6, 50e6 * 0.02);
  EXPECT_NEAR(double(h.Percentile(0.99)), 99e6, 99e6 * 0.02);
  EXPECT_EQ(h.Percentile(1.0), 100000u * 1000);
}

TEST(HistogramTest, MergeAddsCounts) {
  Histogram a, b;
  a.Record(10);
  b.Record(1000000);
  a.Merge(b);
  EXPECT_EQ(a.count(), 2u);
  EXPECT_EQ(a.max(), 1000000u);
  EXPECT_EQ(a.min(), 10u);
}

}  // namespace
}  // namespace users::bench
