"""Reports front end: `explain` and `check`, the findings they show, and the warnings a post-render prints."""
