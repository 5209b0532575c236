"""Cards: HTML reports of what a step did (components, the default card, rendering, storage),
and the card server that shows them."""
