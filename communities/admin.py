from django.contrib import admin

from communities.models import Community, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("user",)
    readonly_fields = ("joined_at",)
    show_change_link = True


@admin.register(Community)
class CommunityAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "member_count", "created_by", "created_at")
    search_fields = ("name", "slug", "description")
    list_filter = ("created_at",)
    date_hierarchy = "created_at"
    readonly_fields = ("member_count", "created_at")
    raw_id_fields = ("created_by",)
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "community", "role", "joined_at")
    search_fields = ("user__username", "community__name", "community__slug")
    list_filter = ("role", "joined_at")
    list_select_related = ("user", "community")
    raw_id_fields = ("user", "community")
