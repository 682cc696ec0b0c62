"""draw_dot: the graph of a Value as Graphviz, like micrograd's trace_graph notebook.

    from tapegrad import draw_dot
    dot = draw_dot(loss)            # a graphviz.Digraph; renders in Jupyter
    dot.render("graph")             # graph.svg

Nodes are boxes "{ label | data | grad }", ops are small round nodes, edges run
from inputs to outputs, left to right: the same picture micrograd draws.
"""


def trace(root):
    """The nodes and edges of the graph below `root` (micrograd's trace)."""
    nodes, edges = set(), set()
    stack = [root]
    while stack:  # iterative: deep graphs do not hit Python's recursion limit
        v = stack.pop()
        if v in nodes:
            continue
        nodes.add(v)
        for child in v._prev:
            edges.add((child, v))
            stack.append(child)
    return nodes, edges


def draw_dot(root, format="svg", rankdir="LR"):
    """format: png | svg | ...; rankdir: TB (top to bottom) | LR (left to right)."""
    assert rankdir in ["LR", "TB"]
    try:
        from graphviz import Digraph
    except ImportError as e:  # Debian: apt-get install python3-graphviz graphviz
        raise ImportError("draw_dot needs the graphviz package (python3-graphviz)") from e
    nodes, edges = trace(root)
    dot = Digraph(format=format, graph_attr={"rankdir": rankdir})
    for n in nodes:
        dot.node(name=str(id(n)), label="{ data %.4f | grad %.4f }" % (n.data, n.grad),
                 shape="record")
        if n._op:
            dot.node(name=str(id(n)) + n._op, label=n._op)
            dot.edge(str(id(n)) + n._op, str(id(n)))
    for n1, n2 in edges:
        dot.edge(str(id(n1)), str(id(n2)) + n2._op)
    return dot
