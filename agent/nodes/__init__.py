"""Graph nodes, one module each; ``graphs.support`` wires them."""

from agent.nodes.call_tools import call_tools
from agent.nodes.escalate import escalate
from agent.nodes.generate import generate
from agent.nodes.input_guard import input_guard
from agent.nodes.output_guard import output_guard
from agent.nodes.reflect import reflect
from agent.nodes.refuse import refuse
from agent.nodes.respond import respond
from agent.nodes.retrieve import retrieve
from agent.nodes.route import route

__all__ = [
    "call_tools",
    "escalate",
    "generate",
    "input_guard",
    "output_guard",
    "reflect",
    "refuse",
    "respond",
    "retrieve",
    "route",
]
