"""HTTP routes, one router per resource; each route only translates between HTTP and the components it names."""
