"""The demo's verifiable world: sums of two digits, where a tiny model judges better than it answers.

See :mod:`stage1kit.demo_world.world` for the world and its texts, :mod:`stage1kit.demo_world.build`
for the script that rebuilds the shipped model (``model/``) reproducibly.
"""
