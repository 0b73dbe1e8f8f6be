"""The component catalog (what components exist, what they offer, which image runs each) and the
image build (``python -m catalog.build``). The component folders themselves live in components/."""
