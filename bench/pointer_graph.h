// The baseline: a pointer graph built the way micrograd and micrograd_rs build
// theirs. Every value is a heap node held by std::shared_ptr, holding its parents
// and a std::function closure for its local backward step; Backward sorts the
// graph topologically with an unordered_set of visited nodes, then runs the
// closures in reverse order.
//
//   PValue a(2.0), b(-3.0);
//   PValue y = (a * b + 1.0).tanh();
//   y.Backward();   // a.grad(), b.grad()
//
// The only departure from micrograd: the depth-first search uses an explicit
// stack, because a recursive one overflows the C++ stack on a million-deep chain.
//
// Thread safety: none; benchmark code.
#ifndef TAPEGRAD_BENCH_POINTER_GRAPH_H_
#define TAPEGRAD_BENCH_POINTER_GRAPH_H_

#include <functional>
#include <memory>
#include <vector>

namespace tapegrad::bench {

struct Node {
  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  // Unlinks iteratively: the default destructor would recurse once per node of a
  // chain and overflow the stack.
  ~Node();
  double data = 0;
  double grad = 0;
  std::vector<std::shared_ptr<Node>> prev;
  std::function<void()> backward;
};

class PValue {
 public:
  explicit PValue(double data);
  double data() const { return node_->data; }
  double grad() const { return node_->grad; }
  void set_data(double d) const { node_->data = d; }
  void set_grad(double g) const { node_->grad = g; }

  friend PValue operator+(const PValue& a, const PValue& b);
  friend PValue operator*(const PValue& a, const PValue& b);
  friend PValue operator+(const PValue& a, double b);
  friend PValue operator*(const PValue& a, double b);
  friend PValue operator*(double a, const PValue& b) { return b * a; }
  friend PValue operator+(double a, const PValue& b) { return b + a; }
  PValue tanh() const;
  PValue relu() const;

  void Backward() const;

 private:
  explicit PValue(std::shared_ptr<Node> node) : node_(std::move(node)) {}
  std::shared_ptr<Node> node_;
};

}  // namespace tapegrad::bench

#endif  // TAPEGRAD_BENCH_POINTER_GRAPH_H_
