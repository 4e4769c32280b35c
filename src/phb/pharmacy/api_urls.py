from django.urls import path

from phb.pharmacy import api

urlpatterns = [
    path("pharmacy/locations/", api.LocationsApi.as_view(), name="pharmacy-locations"),
    path("pharmacy/locations/<str:location_id>/", api.LocationApi.as_view(), name="pharmacy-location"),
    path("pharmacy/products/", api.ProductsApi.as_view(), name="pharmacy-products"),
    path("pharmacy/products/<str:product_id>/", api.ProductApi.as_view(), name="pharmacy-product"),
    path(
        "pharmacy/products/<str:product_id>/reorder-level/",
        api.ProductReorderLevelApi.as_view(),
        name="pharmacy-product-reorder-level",
    ),
    path("pharmacy/batches/", api.BatchesApi.as_view(), name="pharmacy-batches"),
    path("pharmacy/batches/<str:batch_id>/", api.BatchApi.as_view(), name="pharmacy-batch"),
    path("pharmacy/movements/", api.MovementsApi.as_view(), name="pharmacy-movements"),
    path("pharmacy/stock/receive/", api.ReceiveApi.as_view(), name="pharmacy-stock-receive"),
    path("pharmacy/stock/adjust/", api.AdjustApi.as_view(), name="pharmacy-stock-adjust"),
    path("pharmacy/stock/transfer/", api.TransferApi.as_view(), name="pharmacy-stock-transfer"),
    path("pharmacy/stock/return/", api.ReturnApi.as_view(), name="pharmacy-stock-return"),
    path("pharmacy/stock/destroy/", api.DestroyApi.as_view(), name="pharmacy-stock-destroy"),
    path("pharmacy/stock/expire/", api.ExpireApi.as_view(), name="pharmacy-stock-expire"),
    path("pharmacy/suppliers/", api.SuppliersApi.as_view(), name="pharmacy-suppliers"),
    path("pharmacy/suppliers/<str:supplier_id>/", api.SupplierApi.as_view(), name="pharmacy-supplier"),
    path("pharmacy/purchase-orders/", api.PurchaseOrdersApi.as_view(), name="pharmacy-purchase-orders"),
    path("pharmacy/purchase-orders/<str:order_id>/", api.PurchaseOrderApi.as_view(), name="pharmacy-purchase-order"),
    path(
        "pharmacy/purchase-orders/<str:order_id>/submit/",
        api.PurchaseOrderSubmitApi.as_view(),
        name="pharmacy-purchase-order-submit",
    ),
    path(
        "pharmacy/purchase-orders/<str:order_id>/cancel/",
        api.PurchaseOrderCancelApi.as_view(),
        name="pharmacy-purchase-order-cancel",
    ),
    path(
        "pharmacy/purchase-orders/<str:order_id>/receive/",
        api.PurchaseOrderReceiveApi.as_view(),
        name="pharmacy-purchase-order-receive",
    ),
    path("pharmacy/alerts/", api.AlertsApi.as_view(), name="pharmacy-alerts"),
    path("pharmacy/valuation/", api.ValuationApi.as_view(), name="pharmacy-valuation"),
]

# --- dispensing ---
urlpatterns += [
    path("pharmacy/worklist/", api.WorklistApi.as_view(), name="pharmacy-worklist"),
    path(
        "pharmacy/prescriptions/<str:prescription_id>/proposal/",
        api.ProposalApi.as_view(),
        name="pharmacy-prescription-proposal",
    ),
    path(
        "pharmacy/prescriptions/<str:prescription_id>/dispense/",
        api.DispenseApi.as_view(),
        name="pharmacy-prescription-dispense",
    ),
    path("pharmacy/dispensings/", api.DispensingsApi.as_view(), name="pharmacy-dispensings"),
    path("pharmacy/dispensings/<str:dispensing_id>/", api.DispensingApi.as_view(), name="pharmacy-dispensing"),
]
