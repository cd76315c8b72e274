// Graphviz export: the DOT text of small graphs, node by node and edge by edge.
#include <unistd.h>

#include <fstream>
#include <iterator>

#include "gradcheck.h"

using namespace trident;

TEST(Dot, SmallGraphNodesAndEdges) {
  Tensor x = rand({32, 64}, {.requires_grad = true});
  Tensor w = rand({32, 64}, {.requires_grad = true});
  Tensor c = rand({32, 64});  // needs no gradient: not in the graph
  Tensor loss = (x * w + x * c).sum();
  const std::string dot = to_dot(loss);
  // Breadth-first from the root: n0 Sum, n1 Add, n2 Mul (x * w), n3 Mul (x * c), n4 leaf x, n5 leaf w.
  EXPECT_EQ(dot,
            "digraph autograd {\n"
            "  node [fontname=\"Helvetica\", fontsize=11, shape=ellipse];\n"
            "  n0 [label=\"SumBackward\\n[]\", penwidth=2];\n"
            "  n1 [label=\"AddBackward\\n[32, 64]\"];\n"
            "  n2 [label=\"MulBackward\\n[32, 64]\"];\n"
            "  n3 [label=\"MulBackward\\n[32, 64]\"];\n"
            "  n4 [label=\"[32, 64]\", shape=box, style=filled, fillcolor=lightblue];\n"
            "  n5 [label=\"[32, 64]\", shape=box, style=filled, fillcolor=lightblue];\n"
            "  n1 -> n0;\n"
            "  n2 -> n1;\n"
            "  n3 -> n1;\n"
            "  n4 -> n2;\n"
            "  n5 -> n2;\n"
            "  n4 -> n3;\n"
            "}\n");
}

TEST(Dot, SharedInputsAppearOnce) {
  Tensor x = rand({3}, {.requires_grad = true});
  Tensor y = x * x;  // both inputs are x: one leaf node, two edges into the product
  const std::string dot = to_dot(y);
  EXPECT_NE(dot.find("n0 [label=\"MulBackward\\n[3]\", penwidth=2];"), std::string::npos) << dot;
  EXPECT_NE(dot.find("n1 [label=\"[3]\", shape=box"), std::string::npos) << dot;
  EXPECT_EQ(dot.find("n2 ["), std::string::npos) << dot;
  const std::string edge = "n1 -> n0;\n";
  const auto first = dot.find(edge);
  ASSERT_NE(first, std::string::npos);
  EXPECT_NE(dot.find(edge, first + 1), std::string::npos) << dot;
}

TEST(Dot, LeavesAndPlainTensors) {
  Tensor leaf = rand({2, 5}, {.requires_grad = true});
  EXPECT_NE(to_dot(leaf).find("n0 [label=\"[2, 5]\", shape=box, style=filled, fillcolor=lightblue, penwidth=2];"),
            std::string::npos);
  const std::string plain = to_dot(rand({2}));
  EXPECT_EQ(plain.find("n0"), std::string::npos);
  EXPECT_NE(plain.find("does not require grad"), std::string::npos);
  EXPECT_THROW_MSG(to_dot(Tensor()), "to_dot: the root tensor is undefined");
}

TEST(Dot, SaveDotWritesTheSameTextAtomically) {
  Tensor x = rand({4}, {.requires_grad = true});
  Tensor y = (x * 3.0).sum();
  std::string dir = ::testing::TempDir() + "trident_dot_XXXXXX";
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  const std::string path = dir + "/graph.dot";
  save_dot(path, y);
  std::ifstream f(path);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()), to_dot(y));
  ::unlink(path.c_str());
  EXPECT_EQ(::rmdir(dir.c_str()), 0);  // fails if a temporary file was left behind
  EXPECT_THROW_MSG(save_dot(dir + "/missing/graph.dot", y), "save_dot: " + dir + "/missing/graph.dot: cannot create");
}
