//! Helm chart loader and renderer: loads charts from directories and .tgz archives, coalesces values as Helm does, renders templates and sorts objects in Helm's install order.
